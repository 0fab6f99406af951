# The fault-injection runs: only in the `faults` preset (AC_FAULTS, ASan).
if(AC_FAULTS)
  ac_test(faults echo LABELS faults)
endif()
if(AC_FAULTS)
  ac_test(faults http LABELS faults)
endif()
