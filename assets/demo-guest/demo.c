/* The demo VM the library offers on first run ("Try the demo VM"): a tiny
   freestanding guest that boots at once and shows something alive.

   - On the display (the mode Nestbox's direct boot left on, 32 bpp; when
     none is on, as under another VMM, it sets 640x480x32): a "NESTBOX DEMO"
     title bar and, below it, a big decimal counter drawn with a built-in
     5x7 bitmap font scaled up. The counter goes up about 4 times a second.
   - On COM1: "demo: WxH" (or "demo: no display") once, then "count N" for
     each step; every byte typed on the serial console is answered
     "you typed: <c>" (non-printable bytes as hex, e.g. "you typed: 0x0d").

   The pacing is a spin loop: spin=M on the command line (default 300)
   rounds of 2^20 iterations of a two-instruction loop between counts, which
   on the CI machines' nested KVM is about a quarter of a second.

   Set-up runs at CPL 0 and is kept short (on the CI machines CPL-0 code is
   emulated instruction by instruction); the drawing and the wait run in ring
   3, natively, as native/test/guests/snapshot-counter.c does (its headers
   are shared, see scripts/build-demo-guest.mjs). Ring 3 never ends by
   itself: the VM runs until it is stopped. */
#include "guest_display.h"
#include "guest_io.h"
#include "guest_pci.h"
#include "guest_user_mode.h"

#define SPIN_ROUND (1u << 20)
#define DEFAULT_SPIN_ROUNDS 300
#define FALLBACK_WIDTH 640
#define FALLBACK_HEIGHT 480

#define BACKGROUND 0x0f172au
#define TITLE_BAR 0x2563ebu
#define TITLE_TEXT 0xffffffu
#define COUNTER_TEXT 0x22c55eu
#define CAPTION_TEXT 0x94a3b8u

/* Glyphs are 5 columns by 7 rows, one byte per row, bit 4 the leftmost. */
#define GLYPH_W 5
#define GLYPH_H 7
#define CELL_W 6 /* a column of space after each glyph */
#define MAX_DIGITS 10

static const uint8_t digit_glyphs[10][GLYPH_H] = {
    {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e}, /* 0 */
    {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e}, /* 1 */
    {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f}, /* 2 */
    {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e}, /* 3 */
    {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02}, /* 4 */
    {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e}, /* 5 */
    {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e}, /* 6 */
    {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}, /* 7 */
    {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e}, /* 8 */
    {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c}, /* 9 */
};

/* The few letters the screen uses; anything else draws as a space. */
static const uint8_t* letter_glyph(char c) {
  static const uint8_t B[GLYPH_H] = {0x1e, 0x11, 0x11, 0x1e, 0x11, 0x11, 0x1e};
  static const uint8_t C[GLYPH_H] = {0x0e, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0e};
  static const uint8_t D[GLYPH_H] = {0x1c, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1c};
  static const uint8_t E[GLYPH_H] = {0x1f, 0x10, 0x10, 0x1e, 0x10, 0x10, 0x1f};
  static const uint8_t M[GLYPH_H] = {0x11, 0x1b, 0x15, 0x15, 0x11, 0x11, 0x11};
  static const uint8_t N[GLYPH_H] = {0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11};
  static const uint8_t O[GLYPH_H] = {0x0e, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e};
  static const uint8_t S[GLYPH_H] = {0x0f, 0x10, 0x10, 0x0e, 0x01, 0x01, 0x1e};
  static const uint8_t T[GLYPH_H] = {0x1f, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04};
  static const uint8_t U[GLYPH_H] = {0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0e};
  static const uint8_t X[GLYPH_H] = {0x11, 0x11, 0x0a, 0x04, 0x0a, 0x11, 0x11};
  switch (c) {
    case 'B': return B;
    case 'C': return C;
    case 'D': return D;
    case 'E': return E;
    case 'M': return M;
    case 'N': return N;
    case 'O': return O;
    case 'S': return S;
    case 'T': return T;
    case 'U': return U;
    case 'X': return X;
    default:
      if (c >= '0' && c <= '9') return digit_glyphs[c - '0'];
      return 0;
  }
}

static uint8_t user_stack[16384] __attribute__((aligned(16)));

/* What CPL 0 found, for ring 3 (the whole image is user-accessible). */
static volatile uint32_t* framebuffer; /* 0: no display */
static uint32_t width, height, stride;
static uint32_t spin_rounds;

/* Layout, worked out once in ring 3. */
static uint32_t title_height, title_scale, digit_scale, counter_top, caption_top;

static uint32_t min_u32(uint32_t a, uint32_t b) { return a < b ? a : b; }

static void fill(uint32_t x0, uint32_t y0, uint32_t w, uint32_t h, uint32_t color) {
  const uint32_t x1 = min_u32(x0 + w, width), y1 = min_u32(y0 + h, height);
  for (uint32_t y = y0; y < y1; ++y) {
    volatile uint32_t* row = framebuffer + (uint64_t)y * stride;
    for (uint32_t x = x0; x < x1; ++x) row[x] = color;
  }
}

/* A band `scale * GLYPH_H` rows tall from `top`, the whole width: `text`
   centred in `fg` on `bg`. Every pixel of the band is written exactly once,
   so a frame caught mid-redraw shows old and new digits, never a blank. */
static void draw_text_band(uint32_t top, uint32_t scale, const char* text, uint32_t fg,
                           uint32_t bg) {
  uint32_t length = 0;
  while (text[length] != '\0') ++length;
  const uint32_t cell = CELL_W * scale;
  const uint32_t text_width = length * cell - scale; /* no space after the last */
  const uint32_t left = text_width < width ? (width - text_width) / 2 : 0;
  const uint32_t bottom = min_u32(top + GLYPH_H * scale, height);
  for (uint32_t y = top; y < bottom; ++y) {
    const uint32_t glyph_row = (y - top) / scale;
    volatile uint32_t* row = framebuffer + (uint64_t)y * stride;
    for (uint32_t x = 0; x < width; ++x) {
      uint32_t color = bg;
      if (x >= left) {
        const uint32_t index = (x - left) / cell;
        const uint32_t column = (x - left) % cell / scale;
        if (index < length && column < GLYPH_W) {
          const uint8_t* glyph = letter_glyph(text[index]);
          if (glyph != 0 && (glyph[glyph_row] >> (GLYPH_W - 1 - column) & 1u) != 0) color = fg;
        }
      }
      row[x] = color;
    }
  }
}

static void draw_background(void) {
  title_scale = min_u32(height / 96 + 1, 8);
  title_height = GLYPH_H * title_scale + 4 * title_scale;
  /* MAX_DIGITS cells across with a margin; at most a third of the height. */
  digit_scale = min_u32(width / (CELL_W * MAX_DIGITS + 4), height / (3 * GLYPH_H));
  if (digit_scale == 0) digit_scale = 1;
  counter_top = title_height + (height - title_height - GLYPH_H * digit_scale) / 2;
  caption_top = counter_top + GLYPH_H * digit_scale + 2 * digit_scale;

  fill(0, 0, width, height, BACKGROUND);
  fill(0, 0, width, title_height, TITLE_BAR);
  draw_text_band(2 * title_scale, title_scale, "NESTBOX DEMO", TITLE_TEXT, TITLE_BAR);
  if (caption_top + GLYPH_H * title_scale <= height) {
    draw_text_band(caption_top, title_scale, "COUNT", CAPTION_TEXT, BACKGROUND);
  }
}

static void draw_count(uint64_t n) {
  char digits[21];
  char text[21];
  int length = 0;
  do {
    digits[length++] = (char)('0' + n % 10);
    n /= 10;
  } while (n != 0);
  for (int i = 0; i < length; ++i) text[i] = digits[length - 1 - i];
  text[length] = '\0';
  draw_text_band(counter_top, digit_scale, text, COUNTER_TEXT, BACKGROUND);
  __asm__ volatile("" : : : "memory");
}

/* 2^20 iterations of dec/jnz, natively in ring 3. */
static void spin_round(void) {
  uint64_t left = SPIN_ROUND;
  __asm__ volatile("1: dec %0\n\tjnz 1b" : "+r"(left) : : "cc");
}

static void answer(uint8_t byte) {
  static const char hex[] = "0123456789abcdef";
  serial_puts("you typed: ");
  if (byte >= 0x20 && byte < 0x7f) {
    serial_putc((char)byte);
  } else {
    serial_puts("0x");
    serial_putc(hex[byte >> 4]);
    serial_putc(hex[byte & 0xf]);
  }
  serial_putc('\n');
}

/* The wait between counts, answering COM1 input between rounds. */
static void wait_a_little(void) {
  for (uint32_t round = 0; round < spin_rounds; ++round) {
    spin_round();
    while ((inb(COM1 + UART_LSR) & UART_LSR_DR) != 0) answer(inb(COM1));
  }
}

static void user_main(void) {
  if (framebuffer != 0) draw_background();
  for (uint64_t n = 1;; ++n) {
    if (framebuffer != 0) draw_count(n);
    serial_puts("count ");
    serial_put_dec(n);
    serial_putc('\n');
    wait_a_little();
  }
}

/* The display's current mode, if it is a 32-bpp one; 0 without a usable display. */
static int find_display(void) {
  struct display_frame frame;
  if (!display_open_32bpp(FALLBACK_WIDTH, FALLBACK_HEIGHT, 1, &frame)) return 0;
  framebuffer = frame.pixels;
  width = frame.width;
  height = frame.height;
  stride = frame.stride;
  return 1;
}

void guest_main(const uint8_t* boot_params) {
  spin_rounds = command_line_number(boot_command_line(boot_params), "spin=", DEFAULT_SPIN_ROUNDS);
  const int display = find_display();
  if (display) {
    serial_puts("demo: ");
    serial_put_dec(width);
    serial_putc('x');
    serial_put_dec(height);
    serial_putc('\n');
  } else {
    serial_puts("demo: no display\n");
  }
  if (!user_mode_map_image() ||
      (display && !user_mode_map((uint64_t)(uintptr_t)framebuffer, (uint64_t)stride * height * 4))) {
    serial_puts("demo: cannot map for ring 3\n");
    return;
  }
  user_mode_enter(user_main, user_stack + sizeof user_stack);
}
