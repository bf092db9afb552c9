/*
 * metrics — a small Prometheus registry and the HTTP endpoints
 * /metrics, /healthz and /readyz (SPEC section 6).
 *
 * A family (struct metric) has a name, help, type and a fixed list of label
 * names; a series is one set of label values.  Registering a family that
 * exists returns it, so each producer or consumer may register the same
 * names.  Series pointers stay valid until metric_series_remove() or
 * metrics_free(); hot paths keep them.
 *
 * Every function accepts NULL for the registry, family or series and then
 * does nothing, so modules run without a registry in unit tests.
 * Label sets must stay bounded: per producer, consumer, shard held,
 * operation and status, never per record or key.
 */
#ifndef KD_METRICS_H
#define KD_METRICS_H

#include <stddef.h>

struct event_base;
struct evbuffer;
struct metrics;
struct metric;
struct metric_series;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *);

/* labels: comma-separated label names ("producer,status"), or NULL. */
struct metric *metrics_counter(
    struct metrics *, const char *name, const char *help, const char *labels);
struct metric *metrics_gauge(
    struct metrics *, const char *name, const char *help, const char *labels);
/* buckets: ascending upper bounds (+Inf is implied); NULL: seconds buckets
 * from 1 ms to 60 s. */
struct metric *metrics_histogram(struct metrics *, const char *name,
    const char *help, const char *labels, const double *buckets,
    size_t n_buckets);

/* The series for these label values, one per label name, created on first
 * use and owned by the registry. */
struct metric_series *metric_series(struct metric *, ...);
void metric_series_remove(struct metric_series *);

void metric_inc(struct metric_series *);
void metric_add(struct metric_series *, double);
void metric_set(struct metric_series *, double);
void metric_observe(struct metric_series *, double);
double metric_value(const struct metric_series *); /* counter/gauge */

/* The Prometheus text exposition of every family. */
void metrics_render(struct metrics *, struct evbuffer *);

/*
 * Serves /metrics, /healthz and /readyz on listen ("host:port").  ready()
 * says whether /readyz answers 200; on 503 *why (static) is the body.
 * Returns NULL and a malloc'd *cause on failure (start-up only).
 */
struct metrics_http;
typedef int (*metrics_ready_fn)(void *arg, const char **why);
struct metrics_http *metrics_http_start(struct metrics *, struct event_base *,
    const char *listen, metrics_ready_fn, void *arg, char **cause);
void metrics_http_stop(struct metrics_http *);

#endif
