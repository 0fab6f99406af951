# The HTTP load driver of bench/overload.py (open and closed loop, probe, slow loris).
add_executable(overload-load overload_load.c)
target_link_libraries(overload-load PRIVATE ac_warnings)
set_target_properties(overload-load PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bin)
