# gochan_add_c_test(<name> <source>...): one C test executable of the core,
# linked with gochan_core only (no Lua), built with the project's warnings
# and run by ctest under <name> with a time limit, so a hang fails.
function(gochan_add_c_test name)
  add_executable(${name} ${ARGN})
  target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/tests")
  target_compile_options(${name} PRIVATE ${GOCHAN_WARNINGS})
  target_link_libraries(${name} PRIVATE gochan_core)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT 120)
endfunction()
