# Writes a C++ source holding a file's bytes, so files such as the chat page are edited as themselves
# and compiled into the library: cmake -DIN=file -DOUT=file.cpp -DSYMBOL=name -P embed_file.cmake
# Defines `extern const unsigned char SYMBOL[]` (NUL-terminated) and `extern const size_t SYMBOL_size`.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
# 32 bytes to a line keeps the generated file readable.
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){32})" "\\1\n" body "${body}")
file(WRITE "${OUT}.tmp"
  "// Generated from ${IN} by cmake/embed_file.cmake: do not edit.\n#include <cstddef>\n"
  "extern const unsigned char ${SYMBOL}[] = {\n${body}0x00};\n"
  "extern const std::size_t ${SYMBOL}_size = ${bytes};\n")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUT}.tmp")
