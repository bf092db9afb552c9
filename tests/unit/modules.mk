# Modules each unit test links (see Makefile); one line per test.
