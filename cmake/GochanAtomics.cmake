# gochan_atomic_lib(<var>): set <var> to the library C11 atomics on int64_t
# need ("atomic" where they are calls into libatomic, as on some 32-bit
# targets) or to "" where the compiler inlines them. Fails when they do not
# link even with -latomic.
include(CheckCSourceCompiles)

function(gochan_atomic_lib var)
  set(_probe [=[
#include <stdatomic.h>
#include <stdint.h>
static _Atomic int64_t x;
int main (void) { atomic_fetch_add(&x, 1); return (int)atomic_load(&x); }
]=])
  check_c_source_compiles("${_probe}" GOCHAN_ATOMIC_BUILTIN)
  if(GOCHAN_ATOMIC_BUILTIN)
    set(${var} "" PARENT_SCOPE)
    return()
  endif()
  set(CMAKE_REQUIRED_LIBRARIES atomic)
  check_c_source_compiles("${_probe}" GOCHAN_ATOMIC_WITH_LIB)
  if(NOT GOCHAN_ATOMIC_WITH_LIB)
    message(FATAL_ERROR "C11 atomics on int64_t do not link, even with -latomic")
  endif()
  set(${var} atomic PARENT_SCOPE)
endfunction()
