/*
 * metrics.c — the registry and its Prometheus text rendering.
 *
 * Families and series live in lists: the sets are small and bounded (see
 * metrics.h), lookups happen when a series is first needed, and hot paths
 * keep series pointers, so nothing here needs a hash table.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>

#include "metrics/metrics.h"

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

static const char *const metric_type_names[] = {
    "counter", "gauge", "histogram"};

struct metric_series {
	struct metric *family;
	char **values;     /* one per label name, owned */
	double value;      /* counter or gauge */
	double sum;        /* histogram */
	uint64_t count;    /* histogram */
	uint64_t *buckets; /* histogram, per bound (not cumulative), owned */
	TAILQ_ENTRY(metric_series) entry;
};

struct metric {
	char *name;
	char *help;
	enum metric_type type;
	char **labels; /* owned */
	size_t n_labels;
	double *bounds; /* histogram upper bounds, owned */
	size_t n_bounds;
	TAILQ_HEAD(, metric_series) series;
	TAILQ_ENTRY(metric) entry;
};

struct metrics {
	TAILQ_HEAD(, metric) families;
};

/* 1 ms .. 60 s: puts, AWS calls and buffering times all fall in here. */
static const double default_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

struct metrics *
metrics_new(void)
{
	struct metrics *m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return NULL;
	TAILQ_INIT(&m->families);
	return m;
}

static void
series_free(struct metric_series *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; s->values != NULL && i < s->family->n_labels; i++)
		free(s->values[i]);
	free(s->values);
	free(s->buckets);
	free(s);
}

static void
family_free(struct metric *f)
{
	struct metric_series *s;

	if (f == NULL)
		return;
	while ((s = TAILQ_FIRST(&f->series)) != NULL) {
		TAILQ_REMOVE(&f->series, s, entry);
		series_free(s);
	}
	for (size_t i = 0; i < f->n_labels; i++)
		free(f->labels[i]);
	free(f->labels);
	free(f->bounds);
	free(f->name);
	free(f->help);
	free(f);
}

void
metrics_free(struct metrics *m)
{
	struct metric *f;

	if (m == NULL)
		return;
	while ((f = TAILQ_FIRST(&m->families)) != NULL) {
		TAILQ_REMOVE(&m->families, f, entry);
		family_free(f);
	}
	free(m);
}

/* Splits "a,b,c" into an owned array; 0, or -1 on allocation failure. */
static int
labels_split(const char *spec, char ***out, size_t *n)
{
	char **v = NULL, *copy, *tok, *save;
	size_t count = 0;

	*out = NULL;
	*n = 0;
	if (spec == NULL || *spec == '\0')
		return 0;
	if ((copy = strdup(spec)) == NULL)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		char **nv = realloc(v, (count + 1) * sizeof(*v));
		if (nv == NULL)
			goto fail;
		v = nv;
		if ((v[count] = strdup(tok)) == NULL)
			goto fail;
		count++;
	}
	free(copy);
	*out = v;
	*n = count;
	return 0;
fail:
	while (count > 0)
		free(v[--count]);
	free(v);
	free(copy);
	return -1;
}

static struct metric *
family_get(struct metrics *m, enum metric_type type, const char *name,
    const char *help, const char *labels, const double *bounds, size_t n_bounds)
{
	struct metric *f;

	if (m == NULL)
		return NULL;
	TAILQ_FOREACH(f, &m->families, entry)
	if (strcmp(f->name, name) == 0)
		return f->type == type ? f : NULL;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	TAILQ_INIT(&f->series);
	f->type = type;
	f->name = strdup(name);
	f->help = strdup(help != NULL ? help : "");
	if (f->name == NULL || f->help == NULL ||
	    labels_split(labels, &f->labels, &f->n_labels) == -1)
		goto fail;
	if (type == METRIC_HISTOGRAM) {
		if (bounds == NULL) {
			bounds = default_bounds;
			n_bounds = sizeof(default_bounds) / sizeof(*bounds);
		}
		f->bounds = malloc(n_bounds * sizeof(*bounds));
		if (f->bounds == NULL)
			goto fail;
		memcpy(f->bounds, bounds, n_bounds * sizeof(*bounds));
		f->n_bounds = n_bounds;
	}
	TAILQ_INSERT_TAIL(&m->families, f, entry);
	return f;
fail:
	family_free(f);
	return NULL;
}

struct metric *
metrics_counter(
    struct metrics *m, const char *name, const char *help, const char *labels)
{
	return family_get(m, METRIC_COUNTER, name, help, labels, NULL, 0);
}

struct metric *
metrics_gauge(
    struct metrics *m, const char *name, const char *help, const char *labels)
{
	return family_get(m, METRIC_GAUGE, name, help, labels, NULL, 0);
}

struct metric *
metrics_histogram(struct metrics *m, const char *name, const char *help,
    const char *labels, const double *buckets, size_t n_buckets)
{
	return family_get(
	    m, METRIC_HISTOGRAM, name, help, labels, buckets, n_buckets);
}

struct metric_series *
metric_series(struct metric *f, ...)
{
	struct metric_series *s;
	const char *vals[16];
	va_list ap;
	size_t i;

	if (f == NULL || f->n_labels > 16)
		return NULL;
	va_start(ap, f);
	for (i = 0; i < f->n_labels; i++) {
		vals[i] = va_arg(ap, const char *);
		if (vals[i] == NULL)
			vals[i] = "";
	}
	va_end(ap);

	TAILQ_FOREACH(s, &f->series, entry)
	{
		for (i = 0; i < f->n_labels; i++)
			if (strcmp(s->values[i], vals[i]) != 0)
				break;
		if (i == f->n_labels)
			return s;
	}

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->family = f;
	if (f->n_labels > 0 &&
	    (s->values = calloc(f->n_labels, sizeof(*s->values))) == NULL)
		goto fail;
	for (i = 0; i < f->n_labels; i++)
		if ((s->values[i] = strdup(vals[i])) == NULL)
			goto fail;
	if (f->type == METRIC_HISTOGRAM &&
	    (s->buckets = calloc(f->n_bounds, sizeof(*s->buckets))) == NULL)
		goto fail;
	TAILQ_INSERT_TAIL(&f->series, s, entry);
	return s;
fail:
	series_free(s);
	return NULL;
}

void
metric_series_remove(struct metric_series *s)
{
	if (s == NULL)
		return;
	TAILQ_REMOVE(&s->family->series, s, entry);
	series_free(s);
}

void
metric_inc(struct metric_series *s)
{
	metric_add(s, 1);
}

void
metric_add(struct metric_series *s, double v)
{
	if (s != NULL)
		s->value += v;
}

void
metric_set(struct metric_series *s, double v)
{
	if (s != NULL)
		s->value = v;
}

double
metric_value(const struct metric_series *s)
{
	return s != NULL ? s->value : 0;
}

void
metric_observe(struct metric_series *s, double v)
{
	struct metric *f;

	if (s == NULL || s->family->type != METRIC_HISTOGRAM)
		return;
	f = s->family;
	s->sum += v;
	s->count++;
	for (size_t i = 0; i < f->n_bounds; i++)
		if (v <= f->bounds[i]) {
			s->buckets[i]++;
			break;
		}
}

/* ---- rendering ----------------------------------------------------------- */

static void
render_number(struct evbuffer *out, double v)
{
	if (isnan(v))
		evbuffer_add_printf(out, "NaN");
	else if (isinf(v))
		evbuffer_add_printf(out, v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		evbuffer_add_printf(out, "%.0f", v);
	else
		evbuffer_add_printf(out, "%.17g", v);
}

/* HELP text escapes \ and newline; label values also escape ". */
static void
render_escaped(struct evbuffer *out, const char *s, int quote)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			evbuffer_add(out, "\\\\", 2);
		else if (*s == '\n')
			evbuffer_add(out, "\\n", 2);
		else if (quote && *s == '"')
			evbuffer_add(out, "\\\"", 2);
		else
			evbuffer_add(out, s, 1);
	}
}

/* {a="x",b="y"[,le="..."]}; nothing when there are no labels. */
static void
render_labels(
    struct evbuffer *out, const struct metric_series *s, const char *le)
{
	const struct metric *f = s->family;

	if (f->n_labels == 0 && le == NULL)
		return;
	evbuffer_add(out, "{", 1);
	for (size_t i = 0; i < f->n_labels; i++) {
		evbuffer_add_printf(
		    out, "%s%s=\"", i > 0 ? "," : "", f->labels[i]);
		render_escaped(out, s->values[i], 1);
		evbuffer_add(out, "\"", 1);
	}
	if (le != NULL)
		evbuffer_add_printf(
		    out, "%sle=\"%s\"", f->n_labels ? "," : "", le);
	evbuffer_add(out, "}", 1);
}

static void
render_histogram(struct evbuffer *out, const struct metric_series *s)
{
	const struct metric *f = s->family;
	uint64_t cumulative = 0;
	char le[64];

	for (size_t i = 0; i < f->n_bounds; i++) {
		cumulative += s->buckets[i];
		snprintf(le, sizeof(le), "%g", f->bounds[i]);
		evbuffer_add_printf(out, "%s_bucket", f->name);
		render_labels(out, s, le);
		evbuffer_add_printf(
		    out, " %llu\n", (unsigned long long)cumulative);
	}
	evbuffer_add_printf(out, "%s_bucket", f->name);
	render_labels(out, s, "+Inf");
	evbuffer_add_printf(out, " %llu\n", (unsigned long long)s->count);
	evbuffer_add_printf(out, "%s_sum", f->name);
	render_labels(out, s, NULL);
	evbuffer_add(out, " ", 1);
	render_number(out, s->sum);
	evbuffer_add_printf(out, "\n%s_count", f->name);
	render_labels(out, s, NULL);
	evbuffer_add_printf(out, " %llu\n", (unsigned long long)s->count);
}

void
metrics_render(struct metrics *m, struct evbuffer *out)
{
	const struct metric *f;
	const struct metric_series *s;

	if (m == NULL)
		return;
	TAILQ_FOREACH(f, &m->families, entry)
	{
		evbuffer_add_printf(out, "# HELP %s ", f->name);
		render_escaped(out, f->help, 0);
		evbuffer_add_printf(out, "\n# TYPE %s %s\n", f->name,
		    metric_type_names[f->type]);
		TAILQ_FOREACH(s, &f->series, entry)
		{
			if (f->type == METRIC_HISTOGRAM) {
				render_histogram(out, s);
				continue;
			}
			evbuffer_add_printf(out, "%s", f->name);
			render_labels(out, s, NULL);
			evbuffer_add(out, " ", 1);
			render_number(out, s->value);
			evbuffer_add(out, "\n", 1);
		}
	}
}
