// JPEG decoding and encoding over libjpeg-turbo, with every error caught here.
#include "argus_codecs.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>

// libjpeg reports errors through `error_exit`, which must not return. Ours records the
// message and jumps back to the setjmp in the calling shim function, which is C all the way up.
typedef struct {
    struct jpeg_error_mgr base;  // must be first: libjpeg hands us a pointer to it
    jmp_buf jump;
    int truncated;
    char message[200];
} argus_jpeg_error;

static void argus_jpeg_error_exit(j_common_ptr cinfo) {
    argus_jpeg_error *error = (argus_jpeg_error *)cinfo->err;  // base is the first member
    (*cinfo->err->format_message)(cinfo, error->message);
    longjmp(error->jump, 1);
}

// Warnings (level -1) about damaged data are fatal for us: a decoder that silently fills a
// truncated image with grey would enrol a half-blank face. Header oddities that do not
// affect pixels are ignored. Nothing is ever printed.
static void argus_jpeg_emit_message(j_common_ptr cinfo, int level) {
    if (level >= 0) return;  // trace messages
    argus_jpeg_error *error = (argus_jpeg_error *)cinfo->err;
    int code = cinfo->err->msg_code;
    switch (code) {
    case JWRN_EXTRANEOUS_DATA:
    case JWRN_JFIF_MAJOR:
    case JWRN_ADOBE_XFORM:
    case JWRN_TOO_MUCH_DATA:
        return;
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
        error->truncated = 1;
        break;
    default:
        break;
    }
    (*cinfo->err->format_message)(cinfo, error->message);
    longjmp(error->jump, 1);
}

static void argus_jpeg_output_message(j_common_ptr cinfo) { (void)cinfo; }

// A progressive JPEG may legally hold thousands of scans, each a full pass over the coefficients:
// a small file can cost seconds of CPU. libjpeg calls the progress monitor between passes, and
// `input_scan_number` counts the scans read so far; past the limit the decode fails as corrupt.
typedef struct {
    struct jpeg_progress_mgr base;  // must be first
    int max_scans;
} argus_jpeg_progress;

static void argus_jpeg_progress_monitor(j_common_ptr cinfo) {
    if (!cinfo->is_decompressor) return;
    j_decompress_ptr d = (j_decompress_ptr)cinfo;
    argus_jpeg_progress *progress = (argus_jpeg_progress *)cinfo->progress;
    if (d->inputctl != NULL && d->input_scan_number > progress->max_scans) {
        argus_jpeg_error *error = (argus_jpeg_error *)cinfo->err;
        error->truncated = 0;
        snprintf(error->message, sizeof(error->message), "more than %d scans", progress->max_scans);
        longjmp(error->jump, 1);
    }
}

static void argus_set_message(char *dst, const char *text) {
    snprintf(dst, 200, "%s", text);
}

static uint16_t argus_read16(const uint8_t *p, int little) {
    return little ? (uint16_t)(p[0] | (p[1] << 8)) : (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t argus_read32(const uint8_t *p, int little) {
    return little ? ((uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24))
                  : (((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3]);
}

// Reads tag 0x0112 (Orientation) from IFD0 of an APP1 "Exif\0\0" payload. Every offset is
// bounds-checked against the segment; anything malformed means "no orientation" (1).
static int argus_exif_orientation(const uint8_t *data, size_t length) {
    if (length < 6 + 8 || memcmp(data, "Exif\0\0", 6) != 0) return 1;
    const uint8_t *tiff = data + 6;
    size_t size = length - 6;
    int little;
    if (tiff[0] == 'I' && tiff[1] == 'I') little = 1;
    else if (tiff[0] == 'M' && tiff[1] == 'M') little = 0;
    else return 1;
    if (argus_read16(tiff + 2, little) != 42) return 1;
    uint32_t ifd = argus_read32(tiff + 4, little);
    if (ifd > size || size - ifd < 2) return 1;
    uint16_t entries = argus_read16(tiff + ifd, little);
    for (uint32_t i = 0; i < entries; i++) {
        size_t entry = (size_t)ifd + 2 + (size_t)i * 12;
        if (entry > size || size - entry < 12) return 1;
        if (argus_read16(tiff + entry, little) != 0x0112) continue;
        uint16_t type = argus_read16(tiff + entry + 2, little);
        uint32_t count = argus_read32(tiff + entry + 4, little);
        if (type != 3 || count < 1) return 1;  // SHORT, value stored inline
        uint16_t value = argus_read16(tiff + entry + 8, little);
        return (value >= 1 && value <= 8) ? value : 1;
    }
    return 1;
}

void argus_jpeg_decode(const uint8_t *data, size_t length, uint64_t max_pixels, argus_decode_result *out) {
    memset(out, 0, sizeof(*out));
    out->exif_orientation = 1;
    if (data == NULL || length == 0 || length > (size_t)0xFFFFFFFFu) {
        out->status = ARGUS_CODEC_INVALID_ARGUMENT;
        argus_set_message(out->message, "empty or oversized input");
        return;
    }

    struct jpeg_decompress_struct cinfo;
    argus_jpeg_error error;
    memset(&error, 0, sizeof(error));
    // Written after setjmp and read after a longjmp, so they must be volatile.
    uint8_t *volatile pixels = NULL;
    JSAMPLE *volatile row = NULL;

    cinfo.err = jpeg_std_error(&error.base);
    error.base.error_exit = argus_jpeg_error_exit;
    error.base.emit_message = argus_jpeg_emit_message;
    error.base.output_message = argus_jpeg_output_message;

    if (setjmp(error.jump)) {
        out->status = error.truncated ? ARGUS_CODEC_TRUNCATED : ARGUS_CODEC_CORRUPT;
        snprintf(out->message, sizeof(out->message), "%s", error.message);
        free(pixels);
        free(row);
        out->pixels = NULL;
        jpeg_destroy_decompress(&cinfo);
        return;
    }

    jpeg_create_decompress(&cinfo);
    argus_jpeg_progress progress;
    memset(&progress, 0, sizeof(progress));
    progress.base.progress_monitor = argus_jpeg_progress_monitor;
    progress.max_scans = ARGUS_JPEG_MAX_SCANS;
    cinfo.progress = &progress.base;
    // Bounds what decoding may allocate beyond the output: a progressive image keeps every DCT
    // coefficient (2 bytes per sample, at most 3 samples a pixel), so the budget follows the pixel
    // budget instead of a flat gigabyte. libjpeg-turbo has no backing store: past it, decoding fails.
    uint64_t budget = max_pixels * 6u + (64u << 20);
    cinfo.mem->max_memory_to_use = (long)(budget > (1024ull << 20) ? (1024ull << 20) : budget);
    jpeg_mem_src(&cinfo, data, (unsigned long)length);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
    jpeg_read_header(&cinfo, TRUE);

    out->width = (int32_t)cinfo.image_width;
    out->height = (int32_t)cinfo.image_height;
    if ((uint64_t)cinfo.image_width * (uint64_t)cinfo.image_height > max_pixels) {
        out->status = ARGUS_CODEC_TOO_LARGE;
        jpeg_destroy_decompress(&cinfo);
        return;
    }

    for (jpeg_saved_marker_ptr marker = cinfo.marker_list; marker != NULL; marker = marker->next) {
        if (marker->marker == JPEG_APP0 + 1) {
            int orientation = argus_exif_orientation(marker->data, marker->data_length);
            if (orientation != 1) { out->exif_orientation = orientation; break; }
        }
    }

    int cmyk = (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK);
    cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_start_decompress(&cinfo);

    size_t width = cinfo.output_width;
    size_t height = cinfo.output_height;
    size_t components = (size_t)cinfo.output_components;
    if ((cmyk && components != 4) || (!cmyk && components != 3)) {
        error.truncated = 0;
        argus_set_message(error.message, "unexpected output component count");
        longjmp(error.jump, 1);
    }
    pixels = malloc(width * height * 3);
    row = malloc(width * components);
    if (pixels == NULL || row == NULL) {
        free(pixels);
        free(row);
        jpeg_destroy_decompress(&cinfo);
        out->status = ARGUS_CODEC_NO_MEMORY;
        return;
    }

    // Adobe CMYK JPEGs (Photoshop and most other writers) store inverted ink values.
    int inverted = cinfo.saw_Adobe_marker;
    while (cinfo.output_scanline < cinfo.output_height) {
        size_t y = cinfo.output_scanline;
        JSAMPROW rows[1];
        rows[0] = cmyk ? row : pixels + y * width * 3;
        jpeg_read_scanlines(&cinfo, rows, 1);
        if (cmyk) {
            uint8_t *dst = pixels + y * width * 3;
            for (size_t x = 0; x < width; x++) {
                unsigned c = row[4 * x], m = row[4 * x + 1], yy = row[4 * x + 2], k = row[4 * x + 3];
                if (!inverted) { c = 255 - c; m = 255 - m; yy = 255 - yy; k = 255 - k; }
                // With inverted values, c = 255 - C: red = (1 - C)(1 - K) = c * k.
                dst[3 * x] = (uint8_t)((c * k + 127) / 255);
                dst[3 * x + 1] = (uint8_t)((m * k + 127) / 255);
                dst[3 * x + 2] = (uint8_t)((yy * k + 127) / 255);
            }
        }
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);

    out->status = ARGUS_CODEC_OK;
    out->width = (int32_t)width;
    out->height = (int32_t)height;
    out->pixels = pixels;
}

void argus_jpeg_encode(const uint8_t *pixels, int32_t width, int32_t height, argus_jpeg_input input,
                       const argus_jpeg_encode_options *options, argus_encode_result *out) {
    memset(out, 0, sizeof(*out));
    if (pixels == NULL || options == NULL || width <= 0 || height <= 0 ||
        (input != ARGUS_JPEG_IN_GRAY && input != ARGUS_JPEG_IN_RGB && input != ARGUS_JPEG_IN_CMYK)) {
        out->status = ARGUS_CODEC_INVALID_ARGUMENT;
        return;
    }
    struct jpeg_compress_struct cinfo;
    argus_jpeg_error error;
    memset(&error, 0, sizeof(error));
    unsigned char *volatile buffer = NULL;
    unsigned long buffer_size = 0;

    cinfo.err = jpeg_std_error(&error.base);
    error.base.error_exit = argus_jpeg_error_exit;
    error.base.output_message = argus_jpeg_output_message;
    if (setjmp(error.jump)) {
        out->status = ARGUS_CODEC_CORRUPT;
        snprintf(out->message, sizeof(out->message), "%s", error.message);
        jpeg_destroy_compress(&cinfo);
        free(buffer);
        return;
    }
    jpeg_create_compress(&cinfo);
    // jpeg_mem_dest writes the buffer pointer through this address; the cast drops volatile
    // only for the library's view, and we read `buffer` again only after it returns.
    jpeg_mem_dest(&cinfo, (unsigned char **)&buffer, &buffer_size);
    cinfo.image_width = (JDIMENSION)width;
    cinfo.image_height = (JDIMENSION)height;
    cinfo.input_components = (int)input;
    cinfo.in_color_space = input == ARGUS_JPEG_IN_GRAY ? JCS_GRAYSCALE : (input == ARGUS_JPEG_IN_RGB ? JCS_RGB : JCS_CMYK);
    jpeg_set_defaults(&cinfo);
    if (input == ARGUS_JPEG_IN_CMYK) jpeg_set_colorspace(&cinfo, options->ycck ? JCS_YCCK : JCS_CMYK);
    jpeg_set_quality(&cinfo, options->quality < 1 ? 1 : (options->quality > 100 ? 100 : options->quality), TRUE);
    if (options->progressive == 2) {
        // A legal but extreme progressive script: the DC of all components, then every AC
        // coefficient of every component in a scan of its own (1 + 63 x components scans).
        int n = 1 + 63 * cinfo.num_components;
        jpeg_scan_info *script = (jpeg_scan_info *)(*cinfo.mem->alloc_small)((j_common_ptr)&cinfo, JPOOL_PERMANENT,
                                                                             (size_t)n * sizeof(jpeg_scan_info));
        memset(script, 0, (size_t)n * sizeof(jpeg_scan_info));
        script[0].comps_in_scan = cinfo.num_components;
        for (int c = 0; c < cinfo.num_components; c++) script[0].component_index[c] = c;
        int s = 1;
        for (int c = 0; c < cinfo.num_components; c++) {
            for (int k = 1; k < 64; k++, s++) {
                script[s].comps_in_scan = 1;
                script[s].component_index[0] = c;
                script[s].Ss = k;
                script[s].Se = k;
            }
        }
        cinfo.scan_info = script;
        cinfo.num_scans = n;
    } else if (options->progressive) {
        jpeg_simple_progression(&cinfo);
    }
    jpeg_start_compress(&cinfo, TRUE);
    if (options->exif != NULL && options->exif_length > 0 && options->exif_length <= 65533 - 6) {
        unsigned char *segment = malloc(options->exif_length + 6);
        if (segment != NULL) {
            memcpy(segment, "Exif\0\0", 6);
            memcpy(segment + 6, options->exif, options->exif_length);
            jpeg_write_marker(&cinfo, JPEG_APP0 + 1, segment, (unsigned int)(options->exif_length + 6));
            free(segment);
        }
    }
    size_t stride = (size_t)width * (size_t)input;
    while (cinfo.next_scanline < cinfo.image_height) {
        // libjpeg's API takes non-const rows but never writes to input scanlines.
        JSAMPROW rows[1] = { (JSAMPROW)(pixels + (size_t)cinfo.next_scanline * stride) };
        jpeg_write_scanlines(&cinfo, rows, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    out->status = ARGUS_CODEC_OK;
    out->bytes = buffer;
    out->length = buffer_size;
}

void argus_codec_free(void *pointer) { free(pointer); }
