# The 60-second soak (bench/soak.py against the built agentd): release
# builds only (a sanitizer's memory use is not agentd's).
if(NOT AC_SANITIZE AND NOT AC_FAULTS AND NOT AC_FUZZ)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_FOUND)
    add_test(NAME soak/agentd_60s
             COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/bench/soak.py --duration 60
                     --bin $<TARGET_FILE:agentd>)
    set_tests_properties(soak/agentd_60s PROPERTIES LABELS soak TIMEOUT 300)
  endif()
endif()
