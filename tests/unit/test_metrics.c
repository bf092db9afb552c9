/*
 * test_metrics.c — the registry and its Prometheus text.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "metrics/metrics.h"

static char *
render(struct metrics *m)
{
	struct evbuffer *b = evbuffer_new();
	size_t n;
	char *s;

	metrics_render(m, b);
	n = evbuffer_get_length(b);
	s = malloc(n + 1);
	evbuffer_remove(b, s, n);
	s[n] = '\0';
	evbuffer_free(b);
	return s;
}

START_TEST(counter_gauge_labels)
{
	struct metrics *m = metrics_new();
	struct metric *c = metrics_counter(
	    m, "kinesisd_puts_total", "User records put.", "producer,status");
	struct metric_series *ok = metric_series(c, "p1", "ok");
	char *out;

	metric_inc(ok);
	metric_add(ok, 2);
	metric_inc(metric_series(c, "p\"2\\\n", "failed"));
	/* Same name again: the same family and series. */
	ck_assert_ptr_eq(
	    metrics_counter(m, "kinesisd_puts_total", "x", "producer,status"),
	    c);
	ck_assert_ptr_eq(metric_series(c, "p1", "ok"), ok);
	/* Same name, other type: refused. */
	ck_assert_ptr_null(metrics_gauge(m, "kinesisd_puts_total", "x", NULL));
	metric_set(
	    metric_series(metrics_gauge(m, "kinesisd_up", "Up.\nYes", NULL)),
	    1.5);

	out = render(m);
	ck_assert_ptr_nonnull(
	    strstr(out, "# HELP kinesisd_puts_total User records put.\n"
	                "# TYPE kinesisd_puts_total counter\n"
	                "kinesisd_puts_total{producer=\"p1\",status=\"ok\"} 3\n"
	                "kinesisd_puts_total{producer=\"p\\\"2\\\\\\n\",status="
	                "\"failed\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(out, "# HELP kinesisd_up Up.\\nYes\n"
	                                  "# TYPE kinesisd_up gauge\n"
	                                  "kinesisd_up 1.5\n"));
	free(out);
	metrics_free(m);
}
END_TEST

START_TEST(histogram_cumulative)
{
	static const double b[] = {0.1, 1};
	struct metrics *m = metrics_new();
	struct metric_series *s =
	    metric_series(metrics_histogram(m, "kinesisd_lat_seconds",
	                      "Latency.", "op", b, 2),
	        "put");
	char *out;

	metric_observe(s, 0.05);
	metric_observe(s, 0.5);
	metric_observe(s, 7);
	out = render(m);
	ck_assert_ptr_nonnull(strstr(out,
	    "# TYPE kinesisd_lat_seconds histogram\n"
	    "kinesisd_lat_seconds_bucket{op=\"put\",le=\"0.1\"} 1\n"
	    "kinesisd_lat_seconds_bucket{op=\"put\",le=\"1\"} 2\n"
	    "kinesisd_lat_seconds_bucket{op=\"put\",le=\"+Inf\"} 3\n"
	    "kinesisd_lat_seconds_sum{op=\"put\"} 7.5499999999999998\n"
	    "kinesisd_lat_seconds_count{op=\"put\"} 3\n"));
	free(out);
	metric_series_remove(s);
	out = render(m);
	ck_assert_ptr_null(strstr(out, "_bucket"));
	free(out);
	metrics_free(m);
}
END_TEST

START_TEST(null_is_a_no_op)
{
	struct metric_series *s =
	    metric_series(metrics_counter(NULL, "a", "b", "c"), "x");

	ck_assert_ptr_null(s);
	metric_inc(s);
	metric_observe(s, 1);
	metric_series_remove(s);
	metrics_render(NULL, NULL);
	metrics_free(NULL);
	ck_assert(metric_value(s) == 0);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("registry");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, counter_gauge_labels);
	tcase_add_test(tc, histogram_cumulative);
	tcase_add_test(tc, null_is_a_no_op);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}
