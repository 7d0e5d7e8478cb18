// PNG decoding and encoding over libpng's classic API, with every error caught here.
#include "argus_codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

typedef struct {
    const uint8_t *data;
    size_t length;
    size_t offset;
    int truncated;
    char message[200];
} argus_png_reader;

static void argus_png_error(png_structp png, png_const_charp message) {
    argus_png_reader *reader = (argus_png_reader *)png_get_error_ptr(png);
    if (reader != NULL && !reader->truncated) snprintf(reader->message, sizeof(reader->message), "%s", message);
    png_longjmp(png, 1);
}

// libpng's default prints warnings to stderr; a library must not.
static void argus_png_warning(png_structp png, png_const_charp message) { (void)png; (void)message; }

static void argus_png_read(png_structp png, png_bytep dst, size_t count) {
    argus_png_reader *reader = (argus_png_reader *)png_get_io_ptr(png);
    if (reader->length - reader->offset < count) {
        reader->truncated = 1;
        snprintf(reader->message, sizeof(reader->message), "data ends at byte %zu", reader->length);
        png_error(png, "truncated");
    }
    memcpy(dst, reader->data + reader->offset, count);
    reader->offset += count;
}

void argus_png_decode(const uint8_t *data, size_t length, uint64_t max_pixels,
                      uint8_t bg_r, uint8_t bg_g, uint8_t bg_b, argus_decode_result *out) {
    memset(out, 0, sizeof(*out));
    out->exif_orientation = 1;
    if (data == NULL || length == 0) {
        out->status = ARGUS_CODEC_INVALID_ARGUMENT;
        return;
    }
    argus_png_reader reader = { data, length, 0, 0, {0} };
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &reader, argus_png_error, argus_png_warning);
    if (png == NULL) { out->status = ARGUS_CODEC_NO_MEMORY; return; }
    png_infop info = png_create_info_struct(png);
    if (info == NULL) { png_destroy_read_struct(&png, NULL, NULL); out->status = ARGUS_CODEC_NO_MEMORY; return; }

    // Written after setjmp and read after a longjmp, so they must be volatile.
    uint8_t *volatile decoded = NULL;
    png_bytep *volatile rows = NULL;
    uint8_t *volatile pixels = NULL;

    if (setjmp(png_jmpbuf(png))) {
        out->status = reader.truncated ? ARGUS_CODEC_TRUNCATED : ARGUS_CODEC_CORRUPT;
        snprintf(out->message, sizeof(out->message), "%s", reader.message);
        free(decoded);
        free(rows);
        free(pixels);
        out->pixels = NULL;
        png_destroy_read_struct(&png, &info, NULL);
        return;
    }

    png_set_read_fn(png, &reader, argus_png_read);
    png_read_info(png, info);
    png_uint_32 width = png_get_image_width(png, info);
    png_uint_32 height = png_get_image_height(png, info);
    out->width = (int32_t)width;
    out->height = (int32_t)height;
    if ((uint64_t)width * (uint64_t)height > max_pixels) {
        out->status = ARGUS_CODEC_TOO_LARGE;
        png_destroy_read_struct(&png, &info, NULL);
        return;
    }

    int color_type = png_get_color_type(png, info);
    int bit_depth = png_get_bit_depth(png, info);
    if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (color_type == PNG_COLOR_TYPE_GRAY && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(png);
    if (bit_depth == 16) png_set_scale_16(png);
    if (color_type == PNG_COLOR_TYPE_GRAY || color_type == PNG_COLOR_TYPE_GRAY_ALPHA) png_set_gray_to_rgb(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    int channels = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if ((channels != 3 && channels != 4) || png_get_bit_depth(png, info) != 8 || rowbytes != (size_t)width * (size_t)channels) {
        snprintf(reader.message, sizeof(reader.message), "unexpected layout after transforms (%d channels)", channels);
        png_error(png, reader.message);
    }
    decoded = malloc(rowbytes * height);
    rows = malloc(sizeof(png_bytep) * height);
    if (decoded == NULL || rows == NULL) {
        free(decoded);
        free(rows);
        png_destroy_read_struct(&png, &info, NULL);
        out->status = ARGUS_CODEC_NO_MEMORY;
        return;
    }
    for (png_uint_32 y = 0; y < height; y++) rows[y] = decoded + (size_t)y * rowbytes;
    png_read_image(png, rows);
    // Reading up to IEND catches files cut after the pixel data.
    png_read_end(png, NULL);

    if (channels == 3) {
        pixels = decoded;
        decoded = NULL;
    } else {
        pixels = malloc((size_t)width * height * 3);
        if (pixels == NULL) {
            free(decoded);
            free(rows);
            png_destroy_read_struct(&png, &info, NULL);
            out->status = ARGUS_CODEC_NO_MEMORY;
            return;
        }
        const unsigned bg[3] = { bg_r, bg_g, bg_b };
        size_t count = (size_t)width * height;
        for (size_t i = 0; i < count; i++) {
            unsigned alpha = decoded[4 * i + 3];
            for (int c = 0; c < 3; c++) {
                unsigned value = decoded[4 * i + c] * alpha + bg[c] * (255 - alpha);
                pixels[3 * i + c] = (uint8_t)((value + 127) / 255);
            }
        }
        free(decoded);
        decoded = NULL;
    }
    free(rows);
    png_destroy_read_struct(&png, &info, NULL);
    out->status = ARGUS_CODEC_OK;
    out->pixels = pixels;
}

typedef struct {
    uint8_t *bytes;
    size_t length;
    size_t capacity;
    int failed;
} argus_png_writer;

static void argus_png_write(png_structp png, png_bytep src, size_t count) {
    argus_png_writer *writer = (argus_png_writer *)png_get_io_ptr(png);
    if (writer->capacity - writer->length < count) {
        size_t capacity = writer->capacity ? writer->capacity : 4096;
        while (capacity - writer->length < count) capacity *= 2;
        uint8_t *grown = realloc(writer->bytes, capacity);
        if (grown == NULL) { writer->failed = 1; png_error(png, "out of memory"); }
        writer->bytes = grown;
        writer->capacity = capacity;
    }
    memcpy(writer->bytes + writer->length, src, count);
    writer->length += count;
}

static void argus_png_flush(png_structp png) { (void)png; }

void argus_png_encode(const uint8_t *rows, int32_t width, int32_t height,
                      const argus_png_encode_options *options, argus_encode_result *out) {
    memset(out, 0, sizeof(*out));
    if (rows == NULL || options == NULL || width <= 0 || height <= 0) {
        out->status = ARGUS_CODEC_INVALID_ARGUMENT;
        return;
    }
    argus_png_reader errors = { NULL, 0, 0, 0, {0} };
    argus_png_writer writer = { NULL, 0, 0, 0 };
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &errors, argus_png_error, argus_png_warning);
    if (png == NULL) { out->status = ARGUS_CODEC_NO_MEMORY; return; }
    png_infop info = png_create_info_struct(png);
    if (info == NULL) { png_destroy_write_struct(&png, NULL); out->status = ARGUS_CODEC_NO_MEMORY; return; }
    if (setjmp(png_jmpbuf(png))) {
        out->status = writer.failed ? ARGUS_CODEC_NO_MEMORY : ARGUS_CODEC_INVALID_ARGUMENT;
        snprintf(out->message, sizeof(out->message), "%s", errors.message);
        free(writer.bytes);
        png_destroy_write_struct(&png, &info);
        return;
    }
    png_set_write_fn(png, &writer, argus_png_write, argus_png_flush);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, options->bit_depth, options->color_type,
                 options->interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (options->color_type == PNG_COLOR_TYPE_PALETTE) {
        if (options->palette == NULL || options->palette_entries < 1 || options->palette_entries > 256)
            png_error(png, "palette required");
        png_color palette[256];
        for (int i = 0; i < options->palette_entries; i++) {
            palette[i].red = options->palette[3 * i];
            palette[i].green = options->palette[3 * i + 1];
            palette[i].blue = options->palette[3 * i + 2];
        }
        png_set_PLTE(png, info, palette, options->palette_entries);
    }
    if (options->trns != NULL && options->trns_length > 0) {
        if (options->color_type == PNG_COLOR_TYPE_PALETTE) {
            // png_set_tRNS takes a non-const pointer but only copies from it.
            png_set_tRNS(png, info, (png_bytep)options->trns, options->trns_length, NULL);
        } else {
            png_color_16 key;
            memset(&key, 0, sizeof(key));
            const uint8_t *t = options->trns;
            if (options->color_type == PNG_COLOR_TYPE_GRAY && options->trns_length >= 2) {
                key.gray = (png_uint_16)((t[0] << 8) | t[1]);
            } else if (options->color_type == PNG_COLOR_TYPE_RGB && options->trns_length >= 6) {
                key.red = (png_uint_16)((t[0] << 8) | t[1]);
                key.green = (png_uint_16)((t[2] << 8) | t[3]);
                key.blue = (png_uint_16)((t[4] << 8) | t[5]);
            } else {
                png_error(png, "tRNS does not fit the colour type");
            }
            png_set_tRNS(png, info, NULL, 0, &key);
        }
    }
    png_write_info(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    int passes = png_set_interlace_handling(png);
    for (int pass = 0; pass < passes; pass++) {
        for (int32_t y = 0; y < height; y++) {
            // png_write_row only reads the row.
            png_write_row(png, (png_const_bytep)(rows + (size_t)y * rowbytes));
        }
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    out->status = ARGUS_CODEC_OK;
    out->bytes = writer.bytes;
    out->length = writer.length;
}
