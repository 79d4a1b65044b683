# cmake -DLIBRARY=path.so -DEXPECTED="sym1;sym2" -P check_exports.cmake
# Fails unless the dynamic symbols LIBRARY defines are exactly EXPECTED.
execute_process(COMMAND nm -D --defined-only ${LIBRARY}
                OUTPUT_VARIABLE out RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
    message(FATAL_ERROR "nm -D failed on ${LIBRARY}")
endif()
string(REPLACE "\n" ";" lines "${out}")
set(defined "")
foreach(line IN LISTS lines)
    # "<address> <type> <name>"; skip absolute/undefined markers without a name
    if(line MATCHES "^[0-9a-fA-F]+ [A-Za-z] (.+)$")
        list(APPEND defined ${CMAKE_MATCH_1})
    endif()
endforeach()
list(SORT defined)
set(expected ${EXPECTED})
list(SORT expected)
if(NOT defined STREQUAL expected)
    message(FATAL_ERROR "${LIBRARY} exports [${defined}], expected [${expected}]")
endif()
message(STATUS "${LIBRARY} exports exactly [${defined}]")
