/*
 * fuzz_conf.c — the YAML configuration loader on any text.  conf_load_string
 * must return a configuration or an error message, never crash; a
 * configuration it accepts is printed (--check-config), and the printed
 * YAML must load again to the same printed text, as the daemon promises
 * for --check-config's output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/conf.h"
#include "log/log.h"
#include "tests/fuzz/lib/fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_log_init();
	/* The environment must not decide what the input means. */
	fuzz_setenv("AWS_REGION", NULL);
	fuzz_setenv("AWS_DEFAULT_REGION", NULL);
	fuzz_setenv("AWS_ENDPOINT_URL", NULL);
	fuzz_setenv("AWS_ENDPOINT_URL_KINESIS", NULL);
	fuzz_setenv("AWS_ENDPOINT_URL_DYNAMODB", NULL);
	return 0;
}

static char *
print(const struct conf *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (f == NULL)
		return NULL;
	conf_print(c, f);
	fclose(f);
	return text;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text, *cause = NULL, *a = NULL, *b = NULL;
	struct conf *c, *again = NULL;

	/* conf_load_string takes a C string: cut at the first NUL, as a
	 * file's bytes would reach libyaml anyway. */
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	c = conf_load_string(text, "fuzz.yaml", &cause);
	free(text);
	if (c == NULL) {
		/* An error names where: file:line:column, or is OOM. */
		if (cause != NULL && strncmp(cause, "fuzz.yaml", 9) != 0 &&
		    strstr(cause, "environment") == NULL &&
		    strstr(cause, "memory") == NULL) {
			fprintf(stderr, "error without a place: %s\n", cause);
			abort();
		}
		free(cause);
		return 0;
	}
	for (size_t i = 0; i < c->n_producers; i++)
		if (conf_producer_find(c, c->producers[i].name) == NULL)
			abort();
	for (size_t i = 0; i < c->n_consumers; i++)
		if (conf_consumer_find(c, c->consumers[i].name) == NULL)
			abort();
	if ((a = print(c)) == NULL)
		goto out;
	again = conf_load_string(a, "printed.yaml", &cause);
	if (again == NULL) {
		fprintf(stderr, "printed configuration does not load: %s\n%s\n",
		    cause != NULL ? cause : "?", a);
		abort();
	}
	if ((b = print(again)) == NULL)
		goto out;
	/* The first line names the file; the rest must be equal. */
	if (strcmp(strchr(a, '\n'), strchr(b, '\n')) != 0) {
		fprintf(
		    stderr, "printed twice differently:\n%s\n---\n%s\n", a, b);
		abort();
	}
out:
	free(a);
	free(b);
	conf_free(again);
	conf_free(c);
	return 0;
}
