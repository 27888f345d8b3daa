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

/*
 * A monotonic counter kept apart from the records (where the device secret
 * lives, or in the chip's own anti-rollback storage), so that restoring an
 * old copy of the records does not restore it. The module binds its
 * records to it: a restored copy is recognised, and serial numbers are
 * allocated from it, so they never repeat even then. Starts at 0.
 */
SELLO_MUST_CHECK sello_status sello_board_counter_read(uint64_t *value);

/*
 * Raises the counter to `value` durably. SELLO_ERR_PARAM when value is not
 * above the current one (nothing changes); SELLO_ERR_STORAGE when it could
 * not be made durable (the counter then reads as before or as `value`).
 */
SELLO_MUST_CHECK sello_status sello_board_counter_advance(uint64_t value);

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
 * module states it in STATUS and initialises test units only there
 * (SELLO_INIT_TEST_UNIT), so nobody mistakes such a unit for production. */
bool sello_board_is_simulation(void);

/* ---- key token (the `pkcs11` engine) -------------------------------------- */

/*
 * A board may hold the TSU key in a token it drives (a PKCS#11 library on
 * the simulator and in co-processor deployments) instead of module
 * storage. Boards without one define sello_board_token_present() as false
 * and the other functions as returning SELLO_ERR_NOT_FOUND; the module
 * calls none of them then.
 *
 * The token is opened by the board (which token, and the operator's
 * initial security-officer PIN, are board configuration, never frames).
 * PINs passed here are the module's random octets; keys are named by an
 * id (1..32 octets) that the module keeps in its records.
 */

/* True when a token is configured and open. */
bool sello_board_token_present(void);

/*
 * The ceremony's take-over: with the operator's configured SO PIN, sets
 * the user PIN to user_pin and then replaces the SO PIN with so_pin, so
 * that nobody but the module (under the quorum) can log in again.
 */
SELLO_MUST_CHECK sello_status sello_board_token_take_over(
    const uint8_t *user_pin, size_t user_pin_len, const uint8_t *so_pin,
    size_t so_pin_len);

/* Logs in as the user; logging out forgets the session's key handles. */
SELLO_MUST_CHECK sello_status sello_board_token_login(const uint8_t *pin,
                                                      size_t len);
SELLO_MUST_CHECK sello_status sello_board_token_logout(void);

/*
 * Generates a key pair of SELLO_KEY_* `key_type` in the token: private,
 * sensitive, never extractable, sign-only. Writes the DER
 * SubjectPublicKeyInfo (the same octets the module's own engine would
 * write for that key). Needs the user logged in.
 */
SELLO_MUST_CHECK sello_status sello_board_token_generate(
    uint8_t key_type, const uint8_t *id, size_t id_len, uint8_t *spki,
    size_t cap, size_t *spki_len);

/*
 * Signs digest[0..digest_len) (made with SELLO_HASH_* hash_id) with the
 * private key `id` of `key_type`: DER ECDSA-Sig-Value for EC keys, PKCS#1
 * v1.5 over the DigestInfo for RSA. Needs the user logged in.
 */
SELLO_MUST_CHECK sello_status sello_board_token_sign(
    uint8_t key_type, const uint8_t *id, size_t id_len, int hash_id,
    const uint8_t *digest, size_t digest_len, uint8_t *sig, size_t cap,
    size_t *sig_len);

/* Destroys the key pair `id`; needs the user logged in. */
SELLO_MUST_CHECK sello_status sello_board_token_destroy(const uint8_t *id,
                                                        size_t id_len);

/*
 * Gives the token back to the operator after its key was destroyed: logs
 * in as SO with so_pin (the module's, set by take_over) and sets the SO
 * PIN back to the operator's configured one, so that a new ceremony can
 * take the token over again. Needs nobody logged in.
 */
SELLO_MUST_CHECK sello_status sello_board_token_hand_back(const uint8_t *so_pin,
                                                          size_t so_pin_len);

#endif
