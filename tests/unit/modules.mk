# Modules each unit test links (see Makefile); one line per test.
TEST_MODULES_test_ipc := ipc metrics log
TEST_MODULES_test_metrics := metrics log
TEST_MODULES_test_sigv4 := aws log
