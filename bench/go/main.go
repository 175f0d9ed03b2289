// Command gobench runs the workloads of bench/README.md in Go, for
// comparison with the same workloads written against gochan
// (bench/lua/*.lua). Each run
// prints one line in the format of the Lua scripts:
//
//	NAME unit value [key value ...]
//
// Usage: gobench -w W1|W2|W3|W4|W5|W6|SEL|LAT|LATSLEEP|CHURN|W2CTX|CANCEL|W2TRACE|W7 [-n size]
// Standard library only; GOMAXPROCS is Go's default (the number of CPUs),
// as gochan's workers default to the number of CPUs.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/trace"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// w1 is buffered throughput: one producer sends n integers into a channel
// of capacity 128, one consumer sums them. Result: messages per second.
func w1(n int) {
	stop := startTimer()
	ch := make(chan int, 128)
	res := make(chan int)
	go func() {
		sum := 0
		for v := range ch {
			sum += v
		}
		res <- sum
	}()
	go func() {
		for i := 1; i <= n; i++ {
			ch <- i
		}
		close(ch)
	}()
	sum := <-res
	el, cpu := stop()
	check(sum == n*(n+1)/2, "W1: wrong sum")
	report("W1", "msgs_per_s", float64(n)/el, "cpu_s", ms(cpu))
}

// w2 is unbuffered ping-pong: n round trips over two unbuffered channels.
// Result: microseconds per round trip.
func w2(n int) {
	stop := startTimer()
	x := pingpong(n)
	el, cpu := stop()
	check(x == n, "W2: wrong count")
	report("W2", "us_per_roundtrip", el/float64(n)*1e6, "cpu_s", ms(cpu))
}

// pingpong is W2's workload: n round trips over two unbuffered channels
// between two goroutines; it returns the pinger's last value (n).
func pingpong(n int) int {
	a, b := make(chan int), make(chan int)
	done := make(chan int)
	go func() {
		for i := 0; i < n; i++ {
			b <- (<-a) + 1
		}
	}()
	go func() {
		x := 0
		for i := 0; i < n; i++ {
			a <- x
			x = <-b
		}
		done <- x
	}()
	x := <-done
	return x
}

// w3 is spawn+join: n goroutines that do nothing, all started, then all
// waited for. Go has no join; each goroutine closes its own done channel,
// which is what a joinable handle costs. Result: microseconds per task.
func w3(n int) {
	stop := startTimer()
	dones := make([]chan struct{}, n)
	for i := range dones {
		d := make(chan struct{})
		dones[i] = d
		go func() { close(d) }()
	}
	for _, d := range dones {
		<-d
	}
	el, cpu := stop()
	report("W3", "us_per_task", el/float64(n)*1e6, "cpu_s", ms(cpu))
}

// w4 is fan-in: 4 producers each send n/4 integers into one channel of
// capacity 128, one consumer sums them. Result: messages per second.
func w4(n int) {
	const p = 4
	per := n / p
	n = per * p
	stop := startTimer()
	ch := make(chan int, 128)
	for j := 0; j < p; j++ {
		go func() {
			for i := 1; i <= per; i++ {
				ch <- i
			}
		}()
	}
	res := make(chan int)
	go func() {
		sum := 0
		for i := 0; i < n; i++ {
			sum += <-ch
		}
		res <- sum
	}()
	sum := <-res
	el, cpu := stop()
	check(sum == p*(per*(per+1)/2), "W4: wrong sum")
	report("W4", "msgs_per_s", float64(n)/el, "cpu_s", ms(cpu))
}

// w5 is like w1 with a fresh map[string]interface{} per message, the
// closest Go has to a Lua table {id = i, name = "pizza", ok = true}.
// Result: messages per second.
func w5(n int) {
	stop := startTimer()
	ch := make(chan map[string]interface{}, 128)
	res := make(chan int)
	go func() {
		sum := 0
		for m := range ch {
			if m["ok"].(bool) && m["name"].(string) == "pizza" {
				sum += m["id"].(int)
			}
		}
		res <- sum
	}()
	go func() {
		for i := 1; i <= n; i++ {
			ch <- map[string]interface{}{"id": i, "name": "pizza", "ok": true}
		}
		close(ch)
	}()
	sum := <-res
	el, cpu := stop()
	check(sum == n*(n+1)/2, "W5: wrong sum")
	report("W5", "msgs_per_s", float64(n)/el, "cpu_s", ms(cpu))
}

// w7 is shared read-only data: n records as maps (the closest Go has to
// Lua tables), shared by pointer with 100 goroutines that each read all of
// them and stay alive until every reader is done. Result: milliseconds
// from starting the readers until all have read it all; mem_ratio: RSS the
// readers added over the heap of the records (Go shares, as freeze does).
func w7(n int) {
	const readers = 100
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	recs := make([]map[string]interface{}, n)
	for i := range recs {
		recs[i] = map[string]interface{}{
			"id": i + 1, "name": "record " + strconv.Itoa(i+1),
			"tags": []interface{}{"red", "green"},
			"pos":  map[string]interface{}{"x": float64(i+1) * 0.5, "y": i + 1},
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	plain := float64(m1.HeapAlloc - m0.HeapAlloc)
	pass := func(t []map[string]interface{}) float64 {
		s := 0.0
		for _, r := range t {
			s += float64(r["id"].(int)) + float64(len(r["name"].(string))) +
				float64(len(r["tags"].([]interface{}))) +
				r["pos"].(map[string]interface{})["x"].(float64)
		}
		return s
	}
	expect := pass(recs)
	rss0 := rssKB()
	stop := startTimer()
	done, hold := make(chan float64, readers), make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < readers; i++ {
		wg.Add(1)
		go func(t []map[string]interface{}) {
			defer wg.Done()
			done <- pass(t)
			<-hold
		}(recs)
	}
	for i := 0; i < readers; i++ {
		check(<-done == expect, "W7: a reader's sum is wrong")
	}
	el, cpu := stop()
	added := float64(rssKB()-rss0) * 1024
	close(hold)
	wg.Wait()
	report("W7", "ms", el*1000, "cpu_s", ms(cpu),
		"mem_ratio", fmt.Sprintf("%.4f", added/plain),
		"plain_mb", fmt.Sprintf("%.1f", plain/1048576))
}

// rssKB is VmRSS from /proc/self/status (kB), or 0.
func rssKB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				v, _ := strconv.Atoi(f[1])
				return v
			}
		}
	}
	return 0
}

// w6 is many tasks: n goroutines each blocked receiving on its own
// unbuffered channel; once all n have started (and are entering the
// receive), each is released with one send, and all are waited for.
// Result: seconds, and the process's peak RSS.
func w6(n int) {
	stop := startTimer()
	chans := make([]chan int, n)
	results := make([]int, n)
	var wg sync.WaitGroup
	var started atomic.Int64
	wg.Add(n)
	for i := range chans {
		c := make(chan int)
		chans[i] = c
		go func(i int) {
			started.Add(1)
			results[i] = <-c
			wg.Done()
		}(i)
	}
	spawned, _ := stop()
	for started.Load() < int64(n) {
		time.Sleep(time.Millisecond)
	}
	blocked, _ := stop()
	for i, c := range chans {
		c <- i + 1
	}
	wg.Wait()
	el, cpu := stop()
	sum := 0
	for _, v := range results {
		sum += v
	}
	check(sum == n*(n+1)/2, "W6: wrong sum")
	report("W6", "seconds", el, "cpu_s", ms(cpu), "peak_rss_kb", peakRSSKB(),
		"spawned_s", ms(spawned), "blocked_s", ms(blocked))
}

// sel: one goroutine selects over two channels (capacity 128 each) fed by
// two producers with n/2 integers each. Result: selects per second.
func sel(n int) { selas("SEL", n) }

// selprep is sel reported as SELPREP: Go has no prepared select, so
// gochan's selector (bench/lua/selprep.lua) is compared with the same one.
func selprep(n int) { selas("SELPREP", n) }

func selas(name string, n int) {
	half := n / 2
	n = half * 2
	stop := startTimer()
	c1, c2 := make(chan int, 128), make(chan int, 128)
	feed := func(c chan int) {
		for i := 1; i <= half; i++ {
			c <- i
		}
	}
	go feed(c1)
	go feed(c2)
	type result struct{ sum, h1, h2 int }
	res := make(chan result)
	go func() {
		var r result
		for i := 0; i < n; i++ {
			select {
			case v := <-c1:
				r.sum += v
				r.h1++
			case v := <-c2:
				r.sum += v
				r.h2++
			}
		}
		res <- r
	}()
	r := <-res
	el, cpu := stop()
	check(r.sum == 2*(half*(half+1)/2) && r.h1 == half && r.h2 == half,
		"SEL: wrong sum or counts")
	report(name, "selects_per_s", float64(n)/el, "cpu_s", ms(cpu))
}

// latency is wake-up latency beside busy goroutines, on one P
// (GOMAXPROCS 1, as the Lua side runs with one worker): n goroutines
// compute without blocking while main times 20 round trips with an echo
// goroutine over two unbuffered channels (a few ms apart) and then a
// goroutine times 10 sleeps of 0.1 s. It prints both LAT and LATSLEEP
// (milliseconds, medians, and the maxima), as bench/lua/latency.lua does.
func latency(n int) {
	runtime.GOMAXPROCS(1)
	const rounds, sleeps = 20, 10
	var stop int32
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := 0
			for atomic.LoadInt32(&stop) == 0 {
				for k := 1; k <= 10000; k++ {
					x += k
				}
			}
			_ = x
		}()
	}
	timer := startTimer()
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	ping <- 0
	<-pong
	rt := make([]float64, rounds)
	for i := 1; i <= rounds; i++ {
		time.Sleep(time.Duration(2+i%5*3) * time.Millisecond)
		t0 := time.Now()
		ping <- i
		check(<-pong == i, "LAT: wrong echo")
		rt[i-1] = time.Since(t0).Seconds() * 1e3
	}
	close(ping)
	res := make(chan []float64)
	go func() {
		ds := make([]float64, sleeps)
		for i := range ds {
			t0 := time.Now()
			time.Sleep(100 * time.Millisecond)
			ds[i] = time.Since(t0).Seconds() * 1e3
		}
		res <- ds
	}()
	sl := <-res
	_, cpu := timer()
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	rm, rx := medianMax(rt)
	sm, sx := medianMax(sl)
	report("LAT", "ms_per_roundtrip", rm, "max", ms(rx), "spinners", n, "cpu_s", ms(cpu))
	report("LATSLEEP", "ms_per_sleep", sm, "max", ms(sx), "spinners", n, "cpu_s", ms(cpu))
}

func medianMax(xs []float64) (float64, float64) {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	k := len(s)
	if k%2 == 1 {
		return s[k/2], s[k-1]
	}
	return (s[k/2-1] + s[k/2]) / 2, s[k-1]
}

// startTimer starts the clocks; the function it returns gives the wall
// seconds and the process's CPU seconds (user + system, all threads) since.
func startTimer() func() (float64, float64) {
	t0, c0 := time.Now(), cpuSeconds()
	return func() (float64, float64) {
		return time.Since(t0).Seconds(), cpuSeconds() - c0
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// ms formats seconds with three decimals.
func ms(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) }

// peakRSSKB is VmHWM from /proc/self/status (kB), or -1 where /proc is not
// there.
func peakRSSKB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				if v, err := strconv.Atoi(f[1]); err == nil {
					return v
				}
			}
		}
	}
	return -1
}

// churn makes n buffered channels, gives each one value and drops it (the
// long-running-program leak check beside gochan's CHURN). Result: ns per
// channel, and the process's peak RSS.
var churnSink chan int

func churn(n int) {
	stop := startTimer()
	for i := 0; i < n; i++ {
		c := make(chan int, 1)
		c <- i
		churnSink = c
	}
	t, cpu := stop()
	report("CHURN", "ns_per_object", t/float64(n)*1e9, "cpu_s", ms(cpu),
		"peak_rss_kb", peakRSSKB())
}

// w2ctx is W2 with a live context on every receive: each <-a and <-b is
// a select with the context's Done channel (what recv(ctx) is in gochan).
// Result: microseconds per round trip.
func w2ctx(n int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := startTimer()
	a, b := make(chan int), make(chan int)
	done := make(chan int)
	recv := func(c chan int) int {
		select {
		case v := <-c:
			return v
		case <-ctx.Done():
			return -1
		}
	}
	go func() {
		for i := 0; i < n; i++ {
			b <- recv(a) + 1
		}
	}()
	go func() {
		x := 0
		for i := 0; i < n; i++ {
			a <- x
			x = recv(b)
		}
		done <- x
	}()
	x := <-done
	el, cpu := stop()
	check(x == n, "W2CTX: wrong count")
	report("W2CTX", "us_per_roundtrip", el/float64(n)*1e6, "cpu_s", ms(cpu))
}

// w2trace is W2 while runtime/trace records into a temporary file: Go's
// figure for W2TRACE. trace.Stop (it flushes what is left) is timed apart,
// after the clock stops, as stop_s; trace_mb is the file's size.
func w2trace(n int) {
	f, err := os.CreateTemp("", "gobench-trace-*.out")
	check(err == nil, "W2TRACE: cannot create the trace file")
	defer os.Remove(f.Name())
	defer f.Close()
	stop := startTimer()
	check(trace.Start(f) == nil, "W2TRACE: trace.Start failed")
	x := pingpong(n)
	el, cpu := stop()
	t0 := time.Now()
	trace.Stop()
	stopS := time.Since(t0).Seconds()
	size := int64(0)
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	check(x == n, "W2TRACE: wrong count")
	report("W2TRACE", "us_per_roundtrip", el/float64(n)*1e6, "cpu_s", ms(cpu),
		"stop_s", fmt.Sprintf("%.3f", stopS),
		"trace_mb", fmt.Sprintf("%.1f", float64(size)/1e6))
}

// cancelw is CANCEL: n goroutines blocked receiving on one channel with one
// context; the time from cancel() until the last has returned from its
// receive (each then marks a WaitGroup, and waits for the end of the run so
// no goroutine's exit is timed). Result: milliseconds.
func cancelw(n int) {
	ctx, cancel := context.WithCancel(context.Background())
	ch, finish := make(chan int), make(chan struct{})
	var ready int64
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			atomic.AddInt64(&ready, 1)
			select {
			case <-ch:
			case <-ctx.Done():
			}
			wg.Done()
			<-finish
		}()
	}
	for atomic.LoadInt64(&ready) < int64(n) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the last ones reach their select
	stop := startTimer()
	cancel()
	wg.Wait()
	el, cpu := stop()
	close(finish)
	report("CANCEL", "ms_to_last", el*1e3, "cpu_s", ms(cpu),
		"peak_rss_kb", peakRSSKB())
}

func report(name, unit string, value float64, extra ...interface{}) {
	parts := []string{name, unit, strconv.FormatFloat(value, 'g', 6, 64)}
	for _, e := range extra {
		parts = append(parts, fmt.Sprint(e))
	}
	fmt.Println(strings.Join(parts, " "))
}

func check(ok bool, msg string) {
	if !ok {
		fmt.Fprintln(os.Stderr, msg)
		os.Exit(1)
	}
}

func main() {
	w := flag.String("w", "", "workload: W1 W2 W3 W4 W5 W6 SEL SELPREP LAT LATSLEEP CHURN W2CTX CANCEL W2TRACE W7")
	n := flag.Int("n", 0, "size (0: the workload's default size)")
	flag.Parse()
	type workload struct {
		run  func(int)
		size int
	}
	all := map[string]workload{
		"W1": {w1, 1000000}, "W2": {w2, 100000}, "W3": {w3, 1000},
		"W4": {w4, 1000000}, "W5": {w5, 200000}, "W6": {w6, 100000},
		"SEL": {sel, 1000000}, "SELPREP": {selprep, 1000000}, "LAT": {latency, 8}, "LATSLEEP": {latency, 8},
		"CHURN": {churn, 3000000}, "W2CTX": {w2ctx, 100000},
		"CANCEL": {cancelw, 100000}, "W2TRACE": {w2trace, 100000},
		"W7": {w7, 100000},
	}
	wl, ok := all[strings.ToUpper(*w)]
	if !ok || *n < 0 {
		fmt.Fprintln(os.Stderr, "usage: gobench -w W1|W2|W3|W4|W5|W6|SEL|SELPREP|LAT|LATSLEEP|CHURN|W2CTX|CANCEL|W2TRACE|W7 [-n size]")
		os.Exit(2)
	}
	size := *n
	if size == 0 {
		size = wl.size
	}
	// The runtime is already up when main runs; touch the scheduler once
	// so the first goroutine's cost is not in the figure (the Lua side
	// warms up its workers the same way).
	warm := make(chan struct{})
	go func() { close(warm) }()
	<-warm
	_ = runtime.NumGoroutine()
	wl.run(size)
}
