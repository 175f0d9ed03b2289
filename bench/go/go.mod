module gochan/bench

go 1.19
