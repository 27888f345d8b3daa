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

/* Declared worst-case drift of the tick source (ppm). */
void sim_set_drift_ppm(uint32_t ppm);

#endif
