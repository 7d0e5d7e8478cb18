public import ArgusImaging

/// Why a face should not be enrolled, in the spirit of AWS Rekognition's `UnindexedFaces.Reasons`.
public enum QualityReason: String, Sendable, Codable, CaseIterable {
    /// The face box is narrower than `QualityThresholds.minFaceSize`.
    case smallBoundingBox = "small_bounding_box"
    /// Less than `minInsideFraction` of the face box lies inside the photo.
    case exceedsFrame = "exceeds_frame"
    /// The detector's score is below `minConfidence`.
    case lowConfidence = "low_confidence"
    /// The face region's mean luma is below `minBrightness`.
    case lowBrightness = "low_brightness"
    /// The face region's mean luma is above `maxBrightness`.
    case highBrightness = "high_brightness"
    /// The face chip's sharpness is below `minSharpness`.
    case lowSharpness = "low_sharpness"
}

/// The thresholds the quality gate applies; defaults are calibrated on ../shared/faces (README).
public struct QualityThresholds: Sendable, Equatable, Codable {
    public var minFaceSize: Int = 40
    public var minInsideFraction: Double = 0.75
    public var minConfidence: Double = 0.3
    public var minBrightness: Double = 40
    public var maxBrightness: Double = 225
    public var minSharpness: Double = 3

    public init() {}
}

/// Measurements of one face, and the reasons it fails the gate (empty when it passes).
public struct FaceQuality: Sendable, Equatable, Codable {
    /// Box width in pixels.
    public var faceSize: Int
    /// Fraction of the box area inside the photo.
    public var insideFraction: Double
    public var confidence: Double
    /// Mean luma (0–255) of the chip's central face region.
    public var brightness: Double
    /// Standard deviation of the 3×3 Laplacian of the chip's central region, in grey levels: a
    /// blurred face has weak second derivatives.
    public var sharpness: Double
    public var reasons: [QualityReason]

    public var passes: Bool { reasons.isEmpty }

    public static func measure(box: Box, confidence: Double, imageWidth: Int, imageHeight: Int, chip: RGBImage,
                               thresholds: QualityThresholds) -> FaceQuality {
        let inside = Double(box.intersection(Box(left: 0, top: 0, right: imageWidth - 1, bottom: imageHeight - 1)).area)
            / Double(max(1, box.area))
        let gray = chip.grayscale()
        // The chip has 25% padding on each side: the central 100×100 is the face itself.
        let lo = chip.width / 6, hi = chip.width - chip.width / 6
        var sum = 0.0, count = 0.0
        var lapSum = 0.0, lapSquares = 0.0
        for y in lo..<hi {
            for x in lo..<hi {
                sum += Double(gray[x, y])
                count += 1
                let lap = 4 * Double(gray[x, y]) - Double(gray[x - 1, y]) - Double(gray[x + 1, y]) - Double(gray[x, y - 1]) - Double(gray[x, y + 1])
                lapSum += lap
                lapSquares += lap * lap
            }
        }
        let brightness = sum / max(1, count)
        let mean = lapSum / max(1, count)
        let sharpness = max(0, lapSquares / max(1, count) - mean * mean).squareRoot()
        var reasons: [QualityReason] = []
        if box.width < thresholds.minFaceSize { reasons.append(.smallBoundingBox) }
        if inside < thresholds.minInsideFraction { reasons.append(.exceedsFrame) }
        if confidence < thresholds.minConfidence { reasons.append(.lowConfidence) }
        if brightness < thresholds.minBrightness { reasons.append(.lowBrightness) }
        if brightness > thresholds.maxBrightness { reasons.append(.highBrightness) }
        if sharpness < thresholds.minSharpness { reasons.append(.lowSharpness) }
        return FaceQuality(faceSize: box.width, insideFraction: inside, confidence: confidence, brightness: brightness,
                           sharpness: sharpness, reasons: reasons)
    }
}
