/*
 * The board contract: everything the portable module needs from the machine
 * it runs on. A board is a set of C files that define these functions
 * (board/sim/ for the POSIX simulator, board/<mcu>/ for bare metal); the
 * board is chosen at link time, never by #ifdef inside firmware/.
 *
 * The module calls these functions; the board never calls into module
 * internals, only the entry points of <sello/module.h>.
 *
 * All functions are called from one thread of control.
 */
#ifndef SELLO_BOARD_H
#define SELLO_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sello/status.h>

/* ---- transport ----------------------------------------------------------- */

/*
 * Blocks until one complete request frame (header and payload, see
 * <sello/abi.h>) has arrived, and copies it to buf[0..cap). Sets *len.
 * A board with several host links remembers which link the frame came from
 * so that the next sello_board_frame_send answers on it.
 * Returns SELLO_OK, or SELLO_ERR_FRAME when the link is gone for good
 * (the serve loop then returns).
 */
SELLO_MUST_CHECK sello_status sello_board_frame_recv(uint8_t *buf, size_t cap,
                                                     size_t *len);

/* Sends one complete response frame on the link of the last request. */
void sello_board_frame_send(const uint8_t *frame, size_t len);

/* ---- time ---------------------------------------------------------------- */

/*
 * A monotonic tick counter that never goes backwards and does not wrap
 * within the life of the unit. Counts from an arbitrary origin at power-on.
 */
uint64_t sello_board_ticks(void);

/* The nominal tick rate in Hz. */
uint32_t sello_board_tick_hz(void);

/* The declared worst-case frequency error of the tick source, in ppm. */
uint32_t sello_board_tick_drift_ppm(void);

/* ---- non-volatile storage ------------------------------------------------ */

/*
 * Records are small blobs named by a number (SELLO_NV_*, defined by the
 * module). A write replaces the whole record atomically: after a power loss
 * at any point, a read returns either the complete old or the complete new
 * contents, and a write that returned SELLO_OK is durable.
 */

/* Reads a record. SELLO_ERR_NOT_FOUND when it was never written (or was
 * erased), SELLO_ERR_SPACE when it is larger than cap. */
SELLO_MUST_CHECK sello_status sello_board_nv_read(uint32_t record, uint8_t *buf,
                                                  size_t cap, size_t *len);

/* Replaces a record atomically and durably. */
SELLO_MUST_CHECK sello_status sello_board_nv_write(uint32_t record,
                                                   const uint8_t *data,
                                                   size_t len);

/* Removes a record durably; removing an absent record succeeds. */
SELLO_MUST_CHECK sello_status sello_board_nv_erase(uint32_t record);

/* ---- secrets ------------------------------------------------------------- */

/*
 * Fills buf with len octets from the board's true random source, or fails.
 * The module seeds its HMAC-DRBG from it and never uses it directly.
 */
SELLO_MUST_CHECK sello_status sello_board_entropy(uint8_t *buf, size_t len);

/*
 * A 32-octet secret unique to this device that does not live in the
 * non-volatile records, so a copy of the records alone cannot unwrap keys.
 */
SELLO_MUST_CHECK sello_status sello_board_device_secret(uint8_t out[32]);

/* True on boards whose entropy or secret storage is only a simulation; the
 * module states it in STATUS so nobody mistakes such a unit for production. */
bool sello_board_is_simulation(void);

#endif
