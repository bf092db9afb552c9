# Modules each unit test links (see Makefile); one line per test.
TEST_MODULES_test_ipc := ipc metrics log
TEST_MODULES_test_metrics := metrics log
TEST_MODULES_test_sigv4 := aws log
TEST_MODULES_test_kpl := kpl log
TEST_MODULES_test_conf := conf log
TEST_MODULES_test_retry := aws log
TEST_MODULES_test_base64 := aws log
TEST_MODULES_test_http := aws log
TEST_MODULES_test_client := aws metrics log
TEST_MODULES_test_credentials := aws log
TEST_MODULES_test_api := kinesis dynamo aws metrics log
TEST_MODULES_test_consumer := consumer lease log
TEST_MODULES_test_log := log
TEST_MODULES_test_lease := lease kinesis dynamo aws metrics log
TEST_MODULES_test_ipc_limits := ipc conf metrics log
TEST_MODULES_test_libkinesisd := log
TEST_MODULES_test_malformed := kinesis dynamo aws metrics log
