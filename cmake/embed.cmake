# Turns a file into a C source that defines it as a byte array, so a page
# such as runtime/admin/dashboard.html ships inside the binary (nothing to
# install next to it, nothing fetched at run time).
#
# Script mode:  cmake -DIN=file -DOUT=file.c -DNAME=symbol -P embed.cmake
#   defines  const unsigned char NAME[]  (the bytes, then a NUL so it can
#   be used as a C string) and  const size_t NAME_len  (without the NUL).
#
# From CMakeLists:  ac_embed(<out-var> <input> <symbol>)  adds the custom
# command and sets <out-var> to the generated .c (add it to SOURCES).
if(CMAKE_SCRIPT_MODE_FILE)
  file(READ ${IN} hex HEX)
  string(LENGTH "${hex}" nhex)
  math(EXPR len "${nhex} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  # 16 bytes a line keeps the generated file readable (CMake's regex has
  # no {n} repeat: the pattern is spelled out)
  string(REPEAT "0x[0-9a-f][0-9a-f]," 16 line16)
  string(REGEX REPLACE "(${line16})" "\\1\n    " bytes "${bytes}")
  file(WRITE ${OUT}.tmp
    "/* generated from ${IN} by cmake/embed.cmake: do not edit */\n"
    "#include <stddef.h>\n"
    "extern const unsigned char ${NAME}[];\n"
    "extern const size_t ${NAME}_len;\n"
    "const unsigned char ${NAME}[] = {\n    ${bytes}0x00};\n"
    "const size_t ${NAME}_len = ${len};\n")
  # only touch OUT when it changed: no needless rebuilds
  execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different ${OUT}.tmp ${OUT})
  file(REMOVE ${OUT}.tmp)
  return()
endif()

set(AC_EMBED_SCRIPT ${CMAKE_CURRENT_LIST_FILE} CACHE INTERNAL "")
function(ac_embed out_var input symbol)
  get_filename_component(in_abs ${input} ABSOLUTE)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${symbol}.c)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${in_abs} -DOUT=${out} -DNAME=${symbol} -P ${AC_EMBED_SCRIPT}
    DEPENDS ${in_abs} ${AC_EMBED_SCRIPT}
    COMMENT "Embedding ${input} as ${symbol}" VERBATIM)
  set(${out_var} ${out} PARENT_SCOPE)
endfunction()
