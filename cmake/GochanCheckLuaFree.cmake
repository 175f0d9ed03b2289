# gochan_check_lua_free(<dir>): fail if a .c or .h file in <dir> includes a
# Lua header (lua.h, lauxlib.h, lualib.h, luaconf.h). The core must never see
# Lua. It looks at every file in <dir>, not only the listed sources, so a
# header nobody has listed yet is checked too.
#
# Also a script: `cmake -DGOCHAN_CORE_DIR=<dir> [-DGOCHAN_STAMP=<file>] -P
# GochanCheckLuaFree.cmake` runs the check (and touches the stamp when it
# passes); CMakeLists.txt runs it so at build time whenever a core file
# changes.
function(gochan_check_lua_free core_dir)
  file(GLOB _files "${core_dir}/*.c" "${core_dir}/*.h")
  set(_bad "")
  foreach(_f IN LISTS _files)
    file(STRINGS "${_f}" _hits
         REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](lua|lauxlib|lualib|luaconf)\\.h[>\"]")
    if(_hits)
      list(APPEND _bad "${_f}: ${_hits}")
    endif()
  endforeach()
  if(_bad)
    list(JOIN _bad "\n  " _msg)
    message(FATAL_ERROR "src/core must not include Lua headers:\n  ${_msg}")
  endif()
endfunction()

if(CMAKE_SCRIPT_MODE_FILE STREQUAL CMAKE_CURRENT_LIST_FILE)
  gochan_check_lua_free("${GOCHAN_CORE_DIR}")
  if(GOCHAN_STAMP)
    file(TOUCH "${GOCHAN_STAMP}")
  endif()
endif()
