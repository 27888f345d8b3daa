/*
 * The simulator board's key token: the board contract's token functions on
 * top of the PKCS#11 driver (p11_token.h), for the module's `pkcs11`
 * engine. Configured by sello-sim's --pkcs11-* options; without them the
 * board has no token.
 *
 * The operator's initial SO PIN is the one secret this file holds itself.
 * It is read once at start, because the ceremony that needs it comes
 * through a frame and frames never carry PINs, and it is wiped as soon as
 * the take-over has replaced it in the token: from then on it opens
 * nothing. Until then it stays, so that a take-over that failed part-way
 * can be retried by the next ceremony. When the quorum destroys the key,
 * the hand-back reads the file again and sets the operator's SO PIN back,
 * so that the token can serve a new ceremony.
 *
 * Failures are logged on stderr with the PKCS#11 function and CKR_ value
 * behind them, because the module's status codes alone cannot tell an
 * operator whether the token, its configuration or the key is at fault.
 * PINs are never logged.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sello/board.h>

#include "p11_token.h"
#include "sim.h"

/* Longest operator SO PIN accepted (SoftHSMv2 allows 255 characters). */
#define OPERATOR_SO_PIN_MAX 255u

static sim_p11 token;
static bool token_open;
/* The PIN text, NUL-terminated; room for a line end "\r\n" while read. */
static char operator_so_pin[OPERATOR_SO_PIN_MAX + 3];
static bool operator_so_pin_held;
static char operator_so_pin_path[4096];

static void forget_operator_so_pin(void)
{
    explicit_bzero(operator_so_pin, sizeof operator_so_pin);
    operator_so_pin_held = false;
}

/* The first line of `path`, without its line end, into operator_so_pin. */
static int read_operator_so_pin(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "sello-sim: --pkcs11-so-pin-file %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    /* Read into the final buffer so that no other copy has to be wiped;
     * one octet is kept for the terminating NUL. */
    size_t cap = sizeof operator_so_pin - 1, got = 0;
    int read_errno = 0;
    while (got < cap) {
        ssize_t n = read(fd, operator_so_pin + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            read_errno = errno;
            break;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    if (close(fd) != 0 && read_errno == 0)
        read_errno = errno;
    if (read_errno != 0) {
        forget_operator_so_pin();
        fprintf(stderr, "sello-sim: --pkcs11-so-pin-file %s: %s\n", path,
                strerror(read_errno));
        return -1;
    }
    const char *newline = memchr(operator_so_pin, '\n', got);
    size_t len = newline ? (size_t)(newline - operator_so_pin) : got;
    /* Without a newline in a full buffer the line may go on: too long. */
    bool too_long = !newline && got == cap;
    if (len > 0 && operator_so_pin[len - 1] == '\r')
        len--;
    const char *problem = NULL;
    if (too_long || len > OPERATOR_SO_PIN_MAX)
        problem = "the PIN is longer than 255 characters";
    else if (len == 0)
        problem = "the first line is empty";
    else if (memchr(operator_so_pin, '\0', len))
        problem = "the PIN contains a NUL character";
    if (problem) {
        forget_operator_so_pin();
        fprintf(stderr, "sello-sim: --pkcs11-so-pin-file %s: %s\n", path,
                problem);
        return -1;
    }
    explicit_bzero(operator_so_pin + len, sizeof operator_so_pin - len);
    operator_so_pin_held = true;
    return 0;
}

int sim_token_open(const char *module_path, const char *label,
                   const char *so_pin_file)
{
    if (strlen(so_pin_file) >= sizeof operator_so_pin_path) {
        fprintf(stderr, "sello-sim: --pkcs11-so-pin-file: path too long\n");
        return -1;
    }
    strcpy(operator_so_pin_path, so_pin_file);
    if (read_operator_so_pin(so_pin_file) != 0)
        return -1;
    sello_status st = sim_p11_open(&token, module_path, label);
    if (st != SELLO_OK) {
        forget_operator_so_pin();
        const char *fn = sim_p11_last_fn(&token);
        unsigned long rv = sim_p11_last_rv(&token);
        /* A failed dlopen leaves the loader's reason (missing file, wrong
         * architecture, unresolved symbol) in dlerror(), which says more
         * than any status; later steps have dlclose'd, which clears it. */
        const char *loader = strcmp(fn, "dlopen") == 0 ? dlerror() : NULL;
        fprintf(stderr,
                "sello-sim: cannot open PKCS#11 token \"%s\" of %s: failed "
                "at %s (%s 0x%lx; %s)%s%s\n",
                label, module_path, fn, sim_p11_rv_name(rv), rv,
                sello_status_str(st), loader ? ": " : "",
                loader ? loader : "");
        return -1;
    }
    token_open = true;
    return 0;
}

void sim_token_close(void)
{
    forget_operator_so_pin();
    if (token_open) {
        sim_p11_close(&token);
        token_open = false;
    }
}

/* The one stderr line of a failed board token function. */
static sello_status token_failed(const char *board_fn, sello_status st)
{
    unsigned long rv = sim_p11_last_rv(&token);
    fprintf(stderr, "sello-sim: %s: %s (%s: %s 0x%lx)\n", board_fn,
            sello_status_str(st), sim_p11_last_fn(&token),
            sim_p11_rv_name(rv), rv);
    return st;
}

/* For a failure found here, before the driver was called. */
static sello_status token_refused(const char *board_fn, sello_status st,
                                  const char *why)
{
    fprintf(stderr, "sello-sim: %s: %s (%s)\n", board_fn,
            sello_status_str(st), why);
    return st;
}

static sello_status no_token(const char *board_fn)
{
    return token_refused(board_fn, SELLO_ERR_NOT_FOUND,
                         "no PKCS#11 token configured");
}

bool sello_board_token_present(void)
{
    return token_open;
}

sello_status sello_board_token_take_over(const uint8_t *user_pin,
                                         size_t user_pin_len,
                                         const uint8_t *so_pin,
                                         size_t so_pin_len)
{
    static const char fn[] = "sello_board_token_take_over";
    if (!token_open)
        return no_token(fn);
    if (!operator_so_pin_held)
        return token_refused(fn, SELLO_ERR_STATE,
                             "the operator's SO PIN was already replaced");
    /* User PIN first: were it second, a failure after the SO PIN changed
     * would leave a token whose user PIN nobody can ever set again. */
    sello_status st = sim_p11_set_user_pin(&token, operator_so_pin, user_pin,
                                           user_pin_len);
    if (st != SELLO_OK)
        return token_failed(fn, st);
    st = sim_p11_set_so_pin(&token, operator_so_pin, so_pin, so_pin_len);
    if (st != SELLO_OK)
        return token_failed(fn, st);
    forget_operator_so_pin();
    return SELLO_OK;
}

sello_status sello_board_token_login(const uint8_t *pin, size_t len)
{
    static const char fn[] = "sello_board_token_login";
    if (!token_open)
        return no_token(fn);
    sello_status st = sim_p11_login(&token, pin, len);
    return st == SELLO_OK ? st : token_failed(fn, st);
}

sello_status sello_board_token_logout(void)
{
    static const char fn[] = "sello_board_token_logout";
    if (!token_open)
        return no_token(fn);
    sello_status st = sim_p11_logout(&token);
    return st == SELLO_OK ? st : token_failed(fn, st);
}

sello_status sello_board_token_generate(uint8_t key_type, const uint8_t *id,
                                        size_t id_len, uint8_t *spki,
                                        size_t cap, size_t *spki_len)
{
    static const char fn[] = "sello_board_token_generate";
    if (!token_open)
        return no_token(fn);
    sello_status st =
        sim_p11_generate(&token, key_type, id, id_len, spki, cap, spki_len);
    return st == SELLO_OK ? st : token_failed(fn, st);
}

sello_status sello_board_token_sign(uint8_t key_type, const uint8_t *id,
                                    size_t id_len, int hash_id,
                                    const uint8_t *digest, size_t digest_len,
                                    uint8_t *sig, size_t cap, size_t *sig_len)
{
    static const char fn[] = "sello_board_token_sign";
    if (!token_open)
        return no_token(fn);
    sello_status st = sim_p11_sign(&token, id, id_len, key_type, hash_id,
                                   digest, digest_len, sig, cap, sig_len);
    return st == SELLO_OK ? st : token_failed(fn, st);
}

sello_status sello_board_token_destroy(const uint8_t *id, size_t id_len)
{
    static const char fn[] = "sello_board_token_destroy";
    if (!token_open)
        return no_token(fn);
    sello_status st = sim_p11_destroy(&token, id, id_len);
    return st == SELLO_OK ? st : token_failed(fn, st);
}

sello_status sello_board_token_hand_back(const uint8_t *so_pin,
                                         size_t so_pin_len)
{
    static const char fn[] = "sello_board_token_hand_back";
    if (!token_open)
        return no_token(fn);
    if (read_operator_so_pin(operator_so_pin_path) != 0)
        return token_refused(fn, SELLO_ERR_STORAGE,
                             "cannot read the operator's SO PIN file");
    sello_status st = sim_p11_restore_so_pin(&token, so_pin, so_pin_len,
                                             operator_so_pin);
    if (st != SELLO_OK) {
        forget_operator_so_pin();
        return token_failed(fn, st);
    }
    /* Held again, for the next ceremony's take-over. */
    return SELLO_OK;
}
