ac_test(net/resp client LABELS concurrency LIBS PkgConfig::HIREDIS)
