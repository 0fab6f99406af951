ac_test(runtime/cluster dlock LABELS concurrency LIBS PkgConfig::HIREDIS TIMEOUT 600)
ac_test(runtime/cluster placement)
ac_test(runtime/cluster cluster LABELS concurrency LIBS PkgConfig::HIREDIS)
