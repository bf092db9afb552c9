/*
 * events.c — every line from the daemon: a reply completes the request
 * whose id it carries; anything else becomes a struct kinesisd_event,
 * handed to the event callback or queued for kinesisd_next_event().
 */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "kdc_int.h"

static const struct {
	const char *op;
	enum kinesisd_event_type type;
} event_ops[] = {
    {"record", KINESISD_EV_RECORD},
    {"shard_started", KINESISD_EV_SHARD_STARTED},
    {"shard_lost", KINESISD_EV_SHARD_LOST},
    {"shard_ended", KINESISD_EV_SHARD_ENDED},
    {"consumer_failure", KINESISD_EV_CONSUMER_FAILURE},
    {"consumer_shutdown", KINESISD_EV_CONSUMER_SHUTDOWN},
    {"shutdown", KINESISD_EV_SHUTDOWN},
    {"error", KINESISD_EV_ERROR},
};

void
kinesisd_event_free(struct kinesisd_event *ev)
{
	struct kdc_event *e = (struct kdc_event *)ev;

	if (e == NULL)
		return;
	cJSON_Delete(e->root);
	free(e->json);
	free(e->data);
	free(e->failed);
	free(e);
}

static const char *
str_field(const cJSON *msg, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, name);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static uint64_t
u64_field(const cJSON *msg, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, name);

	if (!cJSON_IsNumber(v) || v->valuedouble < 0)
		return 0;
	return (uint64_t)v->valuedouble;
}

/* The record's and consumer_failure's own fields; -1 when malformed. */
static int
event_fill(struct kdc_event *e)
{
	struct kinesisd_event *ev = &e->pub;
	const cJSON *m = e->root, *failed, *item;
	const char *data;

	ev->consumer = str_field(m, "consumer");
	ev->shard = str_field(m, "shard");
	switch (ev->type) {
	case KINESISD_EV_RECORD:
		ev->seq = str_field(m, "seq");
		ev->subseq = u64_field(m, "subseq");
		ev->key = str_field(m, "key");
		ev->ehk = str_field(m, "ehk");
		ev->ts =
		    cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(m, "ts"))
		        ? (int64_t)cJSON_GetObjectItemCaseSensitive(m, "ts")
		              ->valuedouble
		        : 0;
		data = str_field(m, "data");
		if (ev->consumer == NULL || ev->shard == NULL ||
		    ev->seq == NULL || data == NULL ||
		    kdc_base64_decode(
		        data, strlen(data), &e->data, &ev->data_len) == -1)
			return -1;
		ev->data = e->data;
		if (ev->key == NULL)
			ev->key = "";
		break;
	case KINESISD_EV_CONSUMER_FAILURE: {
		size_t n = 0;
		failed = cJSON_GetObjectItemCaseSensitive(m, "failed");
		if (cJSON_IsArray(failed) && cJSON_GetArraySize(failed) > 0) {
			e->failed = calloc((size_t)cJSON_GetArraySize(failed),
			    sizeof(*e->failed));
			if (e->failed == NULL)
				return -1;
		}
		cJSON_ArrayForEach(item, failed)
		{
			const char *seq = str_field(item, "seq");
			if (seq == NULL)
				continue;
			e->failed[n].seq = seq;
			e->failed[n].subseq = u64_field(item, "subseq");
			n++;
		}
		ev->failed = e->failed;
		ev->n_failed = n;
		break;
	}
	case KINESISD_EV_SHUTDOWN:
		ev->reason = str_field(m, "reason");
		break;
	case KINESISD_EV_ERROR:
		ev->error = str_field(m, "error");
		ev->message = str_field(m, "message");
		if (ev->error == NULL)
			ev->error = "unknown";
		if (ev->message == NULL)
			ev->message = "";
		break;
	default:
		break;
	}
	return 0;
}

static void
deliver(struct kinesisd *k, struct kdc_event *e)
{
	if (k->ev_cb != NULL) {
		kdc_dispatch_enter(k);
		k->ev_cb(&e->pub, k->ev_arg);
		kdc_dispatch_leave(k);
		return;
	}
	if (k->evq_tail != NULL)
		k->evq_tail->next = e;
	else
		k->evq_head = e;
	k->evq_tail = e;
}

static int
is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

void
kdc_handle_line(struct kinesisd *k, const char *line, size_t len)
{
	const cJSON *op, *id;
	struct kdc_event *e;
	struct kdc_req *r;
	cJSON *root;

	if (is_blank(line, len))
		return;
	root = cJSON_ParseWithLength(line, len);
	op = cJSON_GetObjectItemCaseSensitive(root, "op");
	if (!cJSON_IsObject(root) || !cJSON_IsString(op)) {
		/* Not from a kinesisd: skipped, and said. */
		kdc_err(k, KINESISD_ERR_PROTOCOL,
		    "skipped a line from kinesisd that is not a message: "
		    "%.80s",
		    line);
		cJSON_Delete(root);
		return;
	}
	id = cJSON_GetObjectItemCaseSensitive(root, "id");
	if (cJSON_IsNumber(id) && id->valuedouble >= 1 &&
	    (r = kdc_req_find(k, (uint64_t)id->valuedouble)) != NULL) {
		kdc_req_remove(k, r);
		kdc_req_complete(k, r, op->valuestring, root, KINESISD_OK);
		kdc_req_free(r);
		cJSON_Delete(root);
		return;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL ||
	    (e->json = malloc(len + 1)) == NULL) {
		free(e);
		cJSON_Delete(root);
		kdc_note_lost(k, "out of memory for an event");
		return;
	}
	memcpy(e->json, line, len);
	e->json[len] = '\0';
	e->root = root;
	e->pub.json = e->json;
	e->pub.op = op->valuestring;
	e->pub.conn_gen = k->gen;
	e->pub.type = KINESISD_EV_OTHER;
	for (size_t i = 0; i < sizeof(event_ops) / sizeof(*event_ops); i++)
		if (strcmp(event_ops[i].op, op->valuestring) == 0)
			e->pub.type = event_ops[i].type;
	if (event_fill(e) == -1) {
		kdc_err(k, KINESISD_ERR_PROTOCOL,
		    "skipped a malformed %s message from kinesisd",
		    op->valuestring);
		kinesisd_event_free(&e->pub);
		return;
	}
	deliver(k, e);
}

void
kdc_evq_drop_records(struct kinesisd *k, uint64_t gen)
{
	struct kdc_event **pp = &k->evq_head, *e;

	k->evq_tail = NULL;
	while ((e = *pp) != NULL) {
		if (e->pub.type == KINESISD_EV_RECORD &&
		    e->pub.conn_gen == gen) {
			*pp = e->next;
			kinesisd_event_free(&e->pub);
			continue;
		}
		k->evq_tail = e;
		pp = &e->next;
	}
}

void
kdc_evq_free(struct kinesisd *k)
{
	struct kdc_event *e;

	while ((e = k->evq_head) != NULL) {
		k->evq_head = e->next;
		kinesisd_event_free(&e->pub);
	}
	k->evq_tail = NULL;
}

void
kinesisd_set_event_cb(struct kinesisd *k, kinesisd_event_cb cb, void *arg)
{
	if (k == NULL)
		return;
	k->ev_cb = cb;
	k->ev_arg = arg;
}

static int
queued(struct kinesisd *k, void *arg)
{
	(void)arg;
	return k->evq_head != NULL;
}

int
kinesisd_next_event(
    struct kinesisd *k, int timeout_ms, struct kinesisd_event **ev)
{
	struct kdc_event *e;
	int rc;

	if (ev != NULL)
		*ev = NULL;
	if (k == NULL || ev == NULL)
		return kdc_err(k, KINESISD_ERR_INVALID, "ev is NULL");
	if (k->evq_head == NULL) {
		if ((rc = kdc_wait(k, timeout_ms, queued, NULL)) !=
		    KINESISD_OK) {
			if (rc == KINESISD_ERR_TIMEOUT)
				kdc_err(
				    k, rc, "no event within %d ms", timeout_ms);
			return rc;
		}
	}
	e = k->evq_head;
	k->evq_head = e->next;
	if (k->evq_head == NULL)
		k->evq_tail = NULL;
	e->next = NULL;
	*ev = &e->pub;
	return KINESISD_OK;
}
