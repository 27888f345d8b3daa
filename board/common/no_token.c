/*
 * The token part of the board contract for a board that drives no key
 * token (the MPS2 board, the unit tests' in-memory board): the TSU key
 * lives in module storage (the module's own engine). <sello/board.h>: a
 * board without a token says so, and the module calls none of the other
 * functions after sello_board_token_present() is false.
 */
#include <sello/board.h>

bool sello_board_token_present(void)
{
    return false;
}

sello_status sello_board_token_take_over(const uint8_t *user_pin,
                                         size_t user_pin_len,
                                         const uint8_t *so_pin,
                                         size_t so_pin_len)
{
    (void)user_pin, (void)user_pin_len, (void)so_pin, (void)so_pin_len;
    return SELLO_ERR_NOT_FOUND;
}

sello_status sello_board_token_login(const uint8_t *pin, size_t len)
{
    (void)pin, (void)len;
    return SELLO_ERR_NOT_FOUND;
}

sello_status sello_board_token_logout(void)
{
    return SELLO_ERR_NOT_FOUND;
}

sello_status sello_board_token_generate(uint8_t key_type, const uint8_t *id,
                                        size_t id_len, uint8_t *spki,
                                        size_t cap, size_t *spki_len)
{
    (void)key_type, (void)id, (void)id_len, (void)spki, (void)cap,
        (void)spki_len;
    return SELLO_ERR_NOT_FOUND;
}

sello_status sello_board_token_sign(uint8_t key_type, const uint8_t *id,
                                    size_t id_len, int hash_id,
                                    const uint8_t *digest, size_t digest_len,
                                    uint8_t *sig, size_t cap, size_t *sig_len)
{
    (void)key_type, (void)id, (void)id_len, (void)hash_id, (void)digest,
        (void)digest_len, (void)sig, (void)cap, (void)sig_len;
    return SELLO_ERR_NOT_FOUND;
}

sello_status sello_board_token_destroy(const uint8_t *id, size_t id_len)
{
    (void)id, (void)id_len;
    return SELLO_ERR_NOT_FOUND;
}

sello_status sello_board_token_hand_back(const uint8_t *so_pin,
                                         size_t so_pin_len)
{
    (void)so_pin, (void)so_pin_len;
    return SELLO_ERR_NOT_FOUND;
}
