/* Names of the module's non-volatile records (see sello_board_nv_*). */
#ifndef SELLO_NV_H
#define SELLO_NV_H

enum {
    /* Unit configuration, public key and wrapped private key: one record so
     * that they can never disagree after a power loss. */
    SELLO_NV_UNIT = 1,
    /* The TSU certificate and, optionally, its issuer's. */
    SELLO_NV_CERTS = 2,
    /* Serial epoch, time floor, ceremony generation, failure count
     * (counters.h). */
    SELLO_NV_COUNTERS = 3,
};

#endif
