# kinesisd — build, test, demo.
#
#   make            kinesisd, kinesisctl, the client libraries
#   make test       deps, unit tests (plain, then ASan+UBSan), integration tests
#   make demo       deps, local Kinesis + DynamoDB, kinesisd, records flowing
#   make fuzz       clang's libFuzzer on each harness, FUZZ_SECONDS (60) each
#   make install    PREFIX=/usr/local DESTDIR=
#
# Each top-level folder is one subsystem, built into build/<variant>/lib<dir>.a.
# SAN=1 builds the same tree into build/san with AddressSanitizer and
# UndefinedBehaviorSanitizer.

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc

PKGS    := libevent libcurl libcrypto libcjson yaml-0.1
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null)

ifeq ($(FUZZ),1)
# clang's libFuzzer build of the same tree, for `make fuzz` (build/fuzz).
VARIANT := fuzz
CC      := clang
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
OPT     := -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link $(SANFLAGS)
else ifeq ($(SAN),1)
VARIANT := san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined
OPT     := -O1 -fno-omit-frame-pointer $(SANFLAGS)
else
VARIANT := plain
SANFLAGS :=
OPT     := -O2
endif
B := build/$(VARIANT)

CFLAGS  ?=
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
           -Wstrict-prototypes -Wmissing-prototypes -g $(OPT) -I. $(PKG_CFLAGS)
LDFLAGS += $(SANFLAGS)
LDLIBS  += $(PKG_LIBS) -lm

# Subsystems linked into the daemon, in dependency order (users first).
MODULES := ipc metrics producer consumer lease kinesis dynamo kpl aws conf log
MODULES := $(foreach m,$(MODULES),$(if $(wildcard $(m)/*.c),$(m)))
LIBS    := $(foreach m,$(MODULES),$(B)/lib$(m).a)
LINK_LIBS = -Wl,--start-group $(LIBS) -Wl,--end-group

all: kinesisd kinesisctl clients

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

define module_rule
$(B)/lib$(1).a: $(patsubst %.c,$(B)/%.o,$(wildcard $(1)/*.c))
	@rm -f $$@
	$(AR) rcs $$@ $$^
endef
$(foreach m,$(MODULES),$(eval $(call module_rule,$(m))))

DAEMON_OBJS := $(patsubst %.c,$(B)/%.o,$(wildcard daemon/*.c))
CTL_OBJS    := $(patsubst %.c,$(B)/%.o,$(wildcard ctl/*.c))

$(B)/kinesisd: $(DAEMON_OBJS) $(LIBS)
	$(CC) $(LDFLAGS) -o $@ $(DAEMON_OBJS) $(LINK_LIBS) $(LDLIBS)
# kinesisctl takes only base64 from aws/ (the archive brings no more).
$(B)/kinesisctl: $(CTL_OBJS) $(B)/libaws.a
	$(CC) $(LDFLAGS) -o $@ $(CTL_OBJS) $(B)/libaws.a $(LDLIBS)

kinesisd: $(B)/kinesisd
	cp $< $@
kinesisctl: $(B)/kinesisctl
	cp $< $@

.PHONY: all clients deps test unit unit-san integration demo install \
        format clean docs

clients:
	@if [ -f clients/c/Makefile ]; then $(MAKE) -C clients/c; fi

# ---- tests -------------------------------------------------------------
# Every tests/unit/test_*.c is one Check program linked with all modules.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRCS))
UNIT_HELPERS := $(patsubst %.c,$(B)/%.o,$(wildcard tests/unit/lib/*.c))

# A test may name the modules it needs (TEST_MODULES_test_x := aws log), so
# it builds while unrelated modules are being changed; default: all.
include tests/unit/modules.mk
test_libs = $(foreach m,$(or $(TEST_MODULES_$(1)),$(MODULES)),$(B)/lib$(m).a)
.SECONDEXPANSION:
$(B)/tests/%: $(B)/tests/unit/%.o $(UNIT_HELPERS) $$(call test_libs,$$*)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(UNIT_HELPERS) \
		-Wl,--start-group $(filter %.a,$^) -Wl,--end-group \
		$(LDLIBS) $(CHECK_LIBS)

unit-bins: $(UNIT_BINS)

# tests/unit/test_libkinesisd.c links the C client library, built here with
# the variant's flags (clients/c/Makefile builds the installed one).
$(B)/libkinesisd.a: $(patsubst %.c,$(B)/%.o,$(wildcard clients/c/*.c))
	@rm -f $@
	$(AR) rcs $@ $^
$(B)/tests/test_libkinesisd: $(B)/libkinesisd.a

# tests/tools/kdaws: one Kinesis or DynamoDB call from the command line,
# for the integration tests; links only the modules it uses.
KDAWS_LIBS := $(foreach m,kinesis dynamo aws metrics log,$(B)/lib$(m).a)
$(B)/kdaws: $(B)/tests/tools/kdaws.o $(KDAWS_LIBS)
	$(CC) $(LDFLAGS) -o $@ $< -Wl,--start-group $(KDAWS_LIBS) \
		-Wl,--end-group $(LDLIBS)

# tests/tools/kdlease: one lease manager as one worker, driven from stdin,
# for the lease integration tests (tests/integration/t_lease_*.sh).
KDLEASE_LIBS := $(foreach m,lease kinesis dynamo aws metrics log,$(B)/lib$(m).a)
$(B)/kdlease: $(B)/tests/tools/kdlease.o $(KDLEASE_LIBS)
	$(CC) $(LDFLAGS) -o $@ $< -Wl,--start-group $(KDLEASE_LIBS) \
		-Wl,--end-group $(LDLIBS)

# Runs every unit test binary from the top of the tree (fixtures are found
# relative to it); the summary lines are Check's own.
unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do \
		echo "== $$t"; CK_FORK=yes $$t || fail=1; \
	done; exit $$fail

unit-san:
	$(MAKE) SAN=1 unit

integration: kinesisd kinesisctl clients
	@tests/integration/run.sh

# ---- fuzzing ------------------------------------------------------------
# tests/fuzz/fuzz_*.c are libFuzzer harnesses.  `make fuzz` builds them
# with clang into build/fuzz and runs each for FUZZ_SECONDS from its seeds
# in tests/fuzz/corpus/<name>/; what it learns stays in
# build/fuzz/corpus/<name>/, crashes land in build/fuzz/crashes/.
# `make fuzz-regress` (part of `make test`) replays the committed corpora,
# past crashes included, through the same harnesses built under ASan+UBSan
# with tests/fuzz/lib/replay.c as main: seconds, and no clang needed.
FUZZ_SECONDS ?= 60
FUZZ_NAMES := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_LIB   := $(B)/tests/fuzz/lib/fuzz.o
ifeq ($(FUZZ),1)
FUZZ_MAIN  :=
FUZZ_LINK  := -fsanitize=fuzzer
else
FUZZ_MAIN  := $(B)/tests/fuzz/lib/replay.o
FUZZ_LINK  :=
endif
$(B)/fuzzers/%: $(B)/tests/fuzz/%.o $(FUZZ_LIB) $(FUZZ_MAIN) $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(FUZZ_LINK) -o $@ $< $(FUZZ_LIB) $(FUZZ_MAIN) \
		$(LINK_LIBS) $(LDLIBS)

.PHONY: fuzz fuzz-bins fuzz-regress
fuzz-bins: $(addprefix $(B)/fuzzers/,$(FUZZ_NAMES))

fuzz-regress:
	$(MAKE) SAN=1 fuzz-bins
	@fail=0; for f in $(FUZZ_NAMES); do \
		build/san/fuzzers/$$f tests/fuzz/corpus/$$f || fail=1; \
	done; exit $$fail

fuzz:
	@scripts/deps.sh fuzz
	$(MAKE) FUZZ=1 fuzz-bins
	@mkdir -p build/fuzz/crashes; fail=0; for f in $(FUZZ_NAMES); do \
		mkdir -p build/fuzz/corpus/$$f; \
		echo "== $$f: $(FUZZ_SECONDS) s"; \
		build/fuzz/fuzzers/$$f -max_total_time=$(FUZZ_SECONDS) \
		    -print_final_stats=1 \
		    -artifact_prefix=build/fuzz/crashes/$$f- \
		    build/fuzz/corpus/$$f tests/fuzz/corpus/$$f || fail=1; \
	done; exit $$fail

test: deps
	$(MAKE) all
	$(MAKE) unit
	$(MAKE) unit-san
	$(MAKE) fuzz-regress
	$(MAKE) integration

deps:
	@scripts/deps.sh

# ---- reliability and benchmarks (tests/reliability, tests/faults, bench) --
# make reliability   N records (N=100000) produced and consumed back through
#                    kinesisd, checked record by record, then `make soak`
# make soak          the fault and kill -9 tests, longer than in `make test`
# make bench         kinesisd beside its peers; prints one table
N ?= 100000
.PHONY: reliability soak bench
reliability: deps
	$(MAKE) all
	N=$(N) tests/reliability/reliability.sh
	$(MAKE) soak

soak: kinesisd kinesisctl
	@fail=0; for t in tests/integration/t_faults_*.sh tests/integration/t_kill9_*.sh; do \
		echo "== $$t (soak)"; \
		KILL_ROUNDS=30 FAULT_PHASE_SECONDS=5 $$t || fail=1; \
	done; exit $$fail

$(B)/bench/kdload: $(B)/bench/kdload.o
	$(CC) $(LDFLAGS) -o $@ $<
$(B)/bench/aggbench: $(B)/bench/aggbench.o $(B)/libkpl.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench: deps
	$(MAKE) all $(B)/bench/kdload $(B)/bench/aggbench
	bench/bench.sh


demo: deps
	$(MAKE) all
	@scripts/demo.sh

docs: kinesisd
	./kinesisd --print-reference > docs/config.md

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)/etc/kinesisd
	install -m 0755 kinesisd kinesisctl $(DESTDIR)$(PREFIX)/bin/
	if [ -d systemd ] && ls systemd/*.service >/dev/null 2>&1; then \
		install -d $(DESTDIR)/lib/systemd/system $(DESTDIR)/usr/lib/sysusers.d; \
		install -m 0644 systemd/*.service systemd/*.socket $(DESTDIR)/lib/systemd/system/; \
		sed -i 's|/usr/local/bin/|$(PREFIX)/bin/|' $(DESTDIR)/lib/systemd/system/kinesisd.service; \
		install -m 0644 systemd/kinesisd.sysusers $(DESTDIR)/usr/lib/sysusers.d/kinesisd.conf; \
	fi
	[ -f $(DESTDIR)/etc/kinesisd/kinesisd.yaml ] || \
		install -m 0644 conf/kinesisd.yaml $(DESTDIR)/etc/kinesisd/kinesisd.yaml
	@if [ -f clients/c/Makefile ]; then $(MAKE) -C clients/c install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR); fi

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build kinesisd kinesisctl
	@if [ -f clients/c/Makefile ]; then $(MAKE) -C clients/c clean; fi

-include $(shell find build -name '*.d' 2>/dev/null)
