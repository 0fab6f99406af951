# The fault-injection runs: only in the `faults` preset (AC_FAULTS, ASan),
# on the io_uring backend and again on the epoll one (same hooks, net/ring.c).
if(AC_FAULTS)
  ac_test(faults echo LABELS faults)
  ac_test(faults http LABELS faults)
  foreach(t echo http)
    add_test(NAME faults/${t}_epoll COMMAND test_faults_${t})
    set_tests_properties(faults/${t}_epoll PROPERTIES LABELS faults ENVIRONMENT AC_BACKEND=epoll)
  endforeach()
endif()
