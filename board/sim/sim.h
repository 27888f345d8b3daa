/* Simulator board internals shared by its files. */
#ifndef SELLO_SIM_H
#define SELLO_SIM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Set by the signal handler; the transport returns when it is set. */
extern volatile sig_atomic_t sim_stopping;

/* Sets up the state directory for records and the device-secret file. */
int sim_nv_open(const char *state_dir, const char *secret_path);

/*
 * Replaces dir_fd/name with data[0..len) so that after a crash at any point
 * it holds the complete old or the complete new contents, and durably once
 * this returns 0 (temporary file, fdatasync, rename, fsync of the
 * directory). -1 with errno on failure.
 */
int sim_replace_file(int dir_fd, const char *name, const uint8_t *data,
                     size_t len);

/*
 * Sets up the monotonic counter file at `path`, which must not lie inside
 * `state_dir` (already created by sim_nv_open): restoring a copy of the
 * state directory must not restore the counter. Only checks the directory;
 * the file is read on first use. Prints why on stderr and returns -1 when
 * it cannot be used.
 */
int sim_counter_open(const char *path, const char *state_dir);

/*
 * Opens the PKCS#11 token `label` of the library `module_path` for the
 * board's key token, with the operator's initial SO PIN read from the first
 * line of `so_pin_file`. Prints why on stderr and returns -1 on failure.
 * Without a call, the board has no token.
 */
int sim_token_open(const char *module_path, const char *label,
                   const char *so_pin_file);

/* Closes the token, if open, and wipes the operator's SO PIN. */
void sim_token_close(void);

/* Listens on a UNIX socket for host links. */
int sim_transport_listen(const char *path);
void sim_transport_close(void);

/*
 * Bench aid (sello-sim --stats PATH): the transport accounts the CPU time
 * between handing a frame to the module and getting its answer, and writes
 * "seq S frames F module_ns M process_ns P" to PATH whenever
 * sim_stats_requested is set (SIGUSR1), so that `make bench` can tell the
 * module's share of the simulator's CPU from the transport's in one run.
 * Costs two clock reads per frame while enabled.
 */
extern volatile sig_atomic_t sim_stats_requested;
void sim_transport_stats(const char *path);

/* Declared worst-case drift of the tick source (ppm). */
void sim_set_drift_ppm(uint32_t ppm);

#ifdef SELLO_SIM_TEST_HOOKS
/* The test build's hooks (test_hooks.c). */
uint64_t sim_test_ticks(uint64_t mono_ns);
void sim_test_persist_point(bool after);
#endif

#endif
