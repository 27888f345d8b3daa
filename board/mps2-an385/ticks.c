/*
 * The tick source: CMSDK timer 0 counting down at the 25 MHz system clock
 * from 2^32 - 1, its interrupt counting the wraps (one every 171.8 s), so
 * that ticks are 64 bits wide and never wrap in the life of the unit.
 *
 * Under QEMU the timer follows the host's monotonic clock, so its real
 * frequency error is the host's; the declared drift is board
 * configuration (--drift-ppm, default 100 ppm).
 */
#include <sello/board.h>

#include "mps2.h"

#define TIMER_CTRL (*(volatile uint32_t *)(MPS2_TIMER0_BASE + 0x00u))
#define TIMER_VALUE (*(volatile uint32_t *)(MPS2_TIMER0_BASE + 0x04u))
#define TIMER_RELOAD (*(volatile uint32_t *)(MPS2_TIMER0_BASE + 0x08u))
#define TIMER_INT (*(volatile uint32_t *)(MPS2_TIMER0_BASE + 0x0cu))

#define CTRL_ENABLE (1u << 0)
#define CTRL_IRQ_ENABLE (1u << 3)

void mps2_timer0_irq(void);

static volatile uint32_t wraps;
static uint32_t drift_ppm;

void mps2_timer0_irq(void)
{
    TIMER_INT = 1; /* clear */
    wraps++;
}

void mps2_ticks_init(uint32_t ppm)
{
    drift_ppm = ppm;
    TIMER_CTRL = 0;
    TIMER_RELOAD = 0xffffffffu;
    TIMER_VALUE = 0xffffffffu;
    TIMER_INT = 1;
    TIMER_CTRL = CTRL_ENABLE | CTRL_IRQ_ENABLE;
    MPS2_NVIC_ISER0 = 1u << MPS2_TIMER0_IRQ;
    __asm__ volatile("cpsie i" ::: "memory");
}

/*
 * With interrupts masked, a wrap that has happened but not been counted
 * shows as the pending interrupt: then the value is read again (it is
 * after the wrap for certain) and the wrap counted here.
 */
uint64_t sello_board_ticks(void)
{
    __asm__ volatile("cpsid i" ::: "memory");
    uint32_t hi = wraps;
    uint32_t down = TIMER_VALUE;
    if (TIMER_INT & 1u) {
        down = TIMER_VALUE;
        hi++;
    }
    __asm__ volatile("cpsie i" ::: "memory");
    return ((uint64_t)hi << 32) | (uint32_t)(0xffffffffu - down);
}

uint32_t sello_board_tick_hz(void)
{
    return MPS2_SYSCLK_HZ;
}

uint32_t sello_board_tick_drift_ppm(void)
{
    return drift_ppm;
}
