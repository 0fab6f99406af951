# Programs in apps/, driven as processes.
ac_test(apps ac_echo)
target_compile_definitions(test_apps_ac_echo PRIVATE AC_ECHO_BIN="$<TARGET_FILE:ac-echo>")
add_dependencies(test_apps_ac_echo ac-echo)
