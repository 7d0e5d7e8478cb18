// Thin, defensive wrappers over libjpeg-turbo and libpng.
//
// Every libjpeg/libpng error is caught with setjmp inside these functions: no
// longjmp ever crosses a Swift frame, nothing is printed, nothing exits. Each
// call returns a status and fills an `argus_codec_result`; on success the
// caller owns `pixels` / `bytes` and must release them with `argus_codec_free`.
#ifndef ARGUS_CODECS_H
#define ARGUS_CODECS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    ARGUS_CODEC_OK = 0,
    ARGUS_CODEC_CORRUPT = 1,      // the library rejected the data; `message` says why
    ARGUS_CODEC_TRUNCATED = 2,    // the data ended before the image did
    ARGUS_CODEC_TOO_LARGE = 3,    // width*height exceeds the pixel budget; width/height are set
    ARGUS_CODEC_NO_MEMORY = 4,
    ARGUS_CODEC_INVALID_ARGUMENT = 5,
} argus_codec_status;

typedef struct {
    int32_t status;          // an argus_codec_status
    int32_t width;           // image width as stored (before EXIF orientation)
    int32_t height;
    int32_t exif_orientation;  // 1...8 from the EXIF APP1 segment; 1 when absent or unreadable
    uint8_t *pixels;         // width*height*3 bytes, interleaved RGB, rows top to bottom, no padding
    char message[200];       // NUL-terminated detail for CORRUPT / TRUNCATED
} argus_decode_result;

/// Scans a progressive JPEG may hold (libjpeg-turbo's own tools suggest limits of this order;
/// ordinary encoders write about 10).
#define ARGUS_JPEG_MAX_SCANS 100

/// Decodes a JPEG (baseline, progressive, grayscale, RGB, CMYK or YCCK) to 8-bit RGB.
/// `max_pixels` is checked against the header's dimensions before any pixel memory is allocated.
void argus_jpeg_decode(const uint8_t *data, size_t length, uint64_t max_pixels, argus_decode_result *out);

/// Decodes a PNG of any colour type and bit depth (palette, tRNS, 16-bit, Adam7) to 8-bit RGB.
/// Alpha (and tRNS transparency) is composited over the background colour `bg_r, bg_g, bg_b`.
/// 16-bit samples are scaled to 8 bits with rounding; gAMA/sRGB/iCCP are not applied.
void argus_png_decode(const uint8_t *data, size_t length, uint64_t max_pixels,
                      uint8_t bg_r, uint8_t bg_g, uint8_t bg_b, argus_decode_result *out);

typedef struct {
    int32_t status;
    uint8_t *bytes;          // the encoded file; release with argus_codec_free
    size_t length;
    char message[200];
} argus_encode_result;

typedef enum {
    ARGUS_JPEG_IN_GRAY = 1,  // 1 byte per pixel
    ARGUS_JPEG_IN_RGB = 3,   // 3 bytes per pixel
    ARGUS_JPEG_IN_CMYK = 4,  // 4 bytes per pixel, written as given (Adobe convention: inverted)
} argus_jpeg_input;

typedef struct {
    int32_t quality;         // 1...100
    int32_t progressive;     // 1: libjpeg's progressive script; 2: one scan per coefficient (tests)
    int32_t ycck;            // with CMYK input: store as YCCK instead of plain CMYK
    const uint8_t *exif;     // optional APP1 payload, written after "Exif\0\0" (TIFF header onwards)
    size_t exif_length;
} argus_jpeg_encode_options;

/// Encodes pixels to JPEG. Used by tests and fixture generation.
void argus_jpeg_encode(const uint8_t *pixels, int32_t width, int32_t height, argus_jpeg_input input,
                       const argus_jpeg_encode_options *options, argus_encode_result *out);

typedef struct {
    int32_t color_type;      // PNG colour type: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA
    int32_t bit_depth;       // 1, 2, 4, 8 or 16 as allowed for the colour type
    int32_t interlaced;      // nonzero: Adam7
    const uint8_t *palette;  // colour type 3: palette_entries * 3 bytes (RGB)
    int32_t palette_entries;
    const uint8_t *trns;     // optional tRNS chunk payload, exactly as PNG stores it
    int32_t trns_length;
} argus_png_encode_options;

/// Encodes rows that are already in PNG's sample layout (packed sub-byte samples, MSB first;
/// 16-bit samples big-endian). Used by tests and fixture generation.
void argus_png_encode(const uint8_t *rows, int32_t width, int32_t height,
                      const argus_png_encode_options *options, argus_encode_result *out);

void argus_codec_free(void *pointer);

#ifdef __cplusplus
}
#endif

#endif
