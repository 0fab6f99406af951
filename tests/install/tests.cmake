# The installed package, as a consumer builds against it (shell test:
# install into a temporary prefix, build three ways, compile each header).
# Not in sanitizer builds: their library needs the sanitizer runtime first
# in the consumer's link, which no consumer's build adds.
if(NOT AC_SANITIZE)
  add_test(NAME install/consumer
           COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/install/test_install.sh ${CMAKE_BINARY_DIR}
                   ${PROJECT_SOURCE_DIR})
  set_tests_properties(install/consumer PROPERTIES LABELS "install" TIMEOUT 300)
endif()
