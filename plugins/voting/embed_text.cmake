# Script mode: cmake -DINPUT=file -DNAME=symbol -DOUT=out.c -P embed_text.cmake
# Writes out.c defining `const char NAME[]` with the bytes of INPUT and a final NUL, as a byte
# array so that no quoting rule of C strings can bite. Used for the plugin's openapi.json.
file(READ ${INPUT} hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
get_filename_component(base ${INPUT} NAME)
set(body "/* Generated from ${base} by embed_text.cmake. Do not edit. */\n")
string(APPEND body "const char ${NAME}[] = {${bytes}0x00};\n")
file(WRITE ${OUT}.tmp "${body}")
file(COPY_FILE ${OUT}.tmp ${OUT} ONLY_IF_DIFFERENT)
file(REMOVE ${OUT}.tmp)
