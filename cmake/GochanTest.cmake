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

# gochan_add_embed_test(<name> <source>...): a C test of a host that embeds
# Lua: linked with build/libgochan.a (the module and the core) and liblua
# (GOCHAN_LUA_LIBRARY), with the core's headers, and GOCHAN_LUA_DIR naming
# lua/ for package.path; run by ctest with the same time limit.
function(gochan_add_embed_test name)
  add_executable(${name} ${ARGN})
  target_include_directories(${name} PRIVATE "${PROJECT_SOURCE_DIR}/tests"
    "${GOCHAN_CORE_DIR}" "${LUA_INCDIR}")
  target_compile_options(${name} PRIVATE ${GOCHAN_WARNINGS})
  target_link_libraries(${name} PRIVATE gochan_embed ${GOCHAN_LUA_LIBRARY})
  target_compile_definitions(${name} PRIVATE
    GOCHAN_LUA_DIR="${PROJECT_SOURCE_DIR}/lua")
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES TIMEOUT 120)
endfunction()
