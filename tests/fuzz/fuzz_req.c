/*
 * fuzz_req.c — the request scanner (ipc/request.c) on any bytes, checked
 * against cJSON, a JSON reader nobody on the team wrote.  Whatever the
 * bytes, the scanner must stay inside its buffers (ASan) and:
 *   - what it accepts, cJSON accepts too (cJSON is more lenient, never
 *     stricter, so the other way round proves nothing);
 *   - for an object, every member the scanner recorded has the type
 *     cJSON gives the first member of that name, and a string the same
 *     text (unless a U+0000 cut cJSON's copy short, which the scanner
 *     reports instead);
 *   - ipc_value_uint agrees with the number's value as a double.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "ipc/ipc.h"
#include "ipc/ipc_int.h"
#include "tests/fuzz/lib/fuzz.h"

static int
same_type(const struct ipc_value *v, const cJSON *j)
{
	switch (v->type) {
	case IPC_NULL:
		return cJSON_IsNull(j);
	case IPC_FALSE:
		return cJSON_IsFalse(j);
	case IPC_TRUE:
		return cJSON_IsTrue(j);
	case IPC_NUMBER:
		return cJSON_IsNumber(j);
	case IPC_STRING:
		return cJSON_IsString(j);
	case IPC_OBJECT:
		return cJSON_IsObject(j);
	case IPC_ARRAY:
		return cJSON_IsArray(j);
	}
	return 0;
}

static void
check_uint(const struct ipc_value *v, const cJSON *j)
{
	uint64_t n;
	double d = j->valuedouble;
	int whole = d >= 0 && d == floor(d) && d <= 9007199254740992.0;

	if (ipc_value_uint(v, UINT64_MAX, &n) == 0) {
		if (!whole || (double)n != d)
			abort();
	} else if (whole && d < 9007199254740992.0 &&
	           strspn(v->str, "0123456789") == v->len)
		abort(); /* plain digits of a whole value must be taken */
}

/* cJSON reads at most 63 characters of a number and refuses the rest:
 * valid JSON it cannot read, so no verdict on it. */
static int
long_number(const uint8_t *s, size_t n)
{
	size_t run = 0;

	for (size_t i = 0; i < n; i++) {
		run = strchr("0123456789+-.eE", s[i]) != NULL && s[i] != '\0'
		          ? run + 1
		          : 0;
		if (run >= 64)
			return 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_req r = {0};
	const char *why = NULL, *end = NULL;
	enum ipc_scan res;
	size_t at = 0;
	cJSON *j;

	res = ipc_req_scan(&r, (const char *)data, size, &why, &at);
	if (res == IPC_SCAN_BAD_JSON && (why == NULL || at > size))
		abort();
	if (res == IPC_SCAN_BAD_JSON || res == IPC_SCAN_NOMEM) {
		ipc_req_free(&r);
		return 0;
	}
	j = cJSON_ParseWithLengthOpts((const char *)data, size, &end, 0);
	if (j == NULL) {
		if (!long_number(data, size))
			abort(); /* the scanner took what cJSON refuses */
		ipc_req_free(&r);
		return 0;
	}
	if ((res == IPC_SCAN_NOT_OBJECT) == cJSON_IsObject(j))
		abort();
	for (size_t i = 0; res == IPC_SCAN_OBJECT && i < r.n; i++) {
		const struct ipc_member *m = &r.m[i];
		const cJSON *v;

		if (strlen(m->name) != m->name_len)
			abort();
		v = cJSON_GetObjectItemCaseSensitive(j, m->name);
		if (ipc_req_get(&r, m->name) == &m->v) {
			/* The first of its name: what cJSON finds too. */
			if (v == NULL || !same_type(&m->v, v))
				abort();
			if (m->v.type == IPC_STRING &&
			    strcmp(m->v.str, v->valuestring) != 0)
				abort();
			if (m->v.type == IPC_NUMBER)
				check_uint(&m->v, v);
		}
		if ((m->v.type == IPC_STRING || m->v.type == IPC_NUMBER) &&
		    strlen(m->v.str) != m->v.len)
			abort();
	}
	cJSON_Delete(j);
	ipc_req_free(&r);
	return 0;
}
