/* Simulator board internals shared by its files. */
#ifndef SELLO_SIM_H
#define SELLO_SIM_H

#include <signal.h>
#include <stdint.h>

/* Set by the signal handler; the transport returns when it is set. */
extern volatile sig_atomic_t sim_stopping;

/* Sets up the state directory for records and the device-secret file. */
int sim_nv_open(const char *state_dir, const char *secret_path);

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

#endif
