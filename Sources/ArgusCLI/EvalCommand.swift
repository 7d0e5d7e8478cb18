import ArgumentParser
import ArgusEval
import ArgusFace
import ArgusJobs
import ArgusMatching
import Foundation

extension Argus {
    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Accuracy on labelled photos.",
                                                        subcommands: [EvalPairs.self, EvalIdentification.self, EvalCalibrate.self])
    }
}

/// Templates of photos, one per photo (the largest face), nil where no face was found.
struct TemplateCache {
    let pipeline: FacePipeline
    var templates: [String: [Float]?] = [:]

    mutating func template(_ path: String) -> [Float]? {
        if let cached = templates[path] { return cached }
        let t: [Float]?
        do {
            let image = try ImageDecoderFacade.decode(path)
            // Evaluation measures matching, so every detected face counts (no quality gate).
            let faces = try pipeline.analyze(image, embed: false)
            if let largest = faces.max(by: { $0.box.area < $1.box.area }) {
                t = FaceEmbedder.template(from: try pipeline.embedder.descriptor(for: pipeline.aligner.chip(from: image, landmarks: largest.landmarks)))
            } else {
                t = nil
            }
        } catch {
            printError("\(path): \(error)")
            t = nil
        }
        templates[path] = t
        return t
    }
}

/// `argus eval pairs PAIRS.tsv --root DIR`: 1:1 accuracy on labelled pairs.
struct EvalPairs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pairs",
        abstract: "Verification accuracy on PATH1<TAB>PATH2<TAB>1|0 pairs (LFW style).",
        discussion: "A photo without a face gives its pairs the score -1 (a non-match). Writes roc.svg and det.svg to --out-dir."
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The pairs file.") var pairsFile: String
    @Option(help: "Folder the pair paths are relative to.") var root: String = "."
    @Option(help: "Decision threshold (default: the calibrated one).") var threshold: Float?
    @Option(help: "Where the ROC and DET curves go.") var outDir: String = "eval-pairs"
    @Option(help: "Folds for the cross-validated best threshold.") var folds: Int = 10
    @Flag var json = false

    struct Result: Encodable {
        let pairs: Int
        let accuracy: Double
        let threshold: Double
        let best_accuracy: Double
        let best_threshold: Double
        let tar_at_far_1e_2: Double
        let tar_at_far_1e_3: Double
        let eer: Double
        let no_face: Int
        let images: Int
        let roc_svg: String
        let det_svg: String

        enum CodingKeys: String, CodingKey {
            case pairs, accuracy, threshold, best_accuracy, best_threshold, eer, no_face, images, roc_svg, det_svg
            case tar_at_far_1e_2 = "tar_at_far_1e-2"
            case tar_at_far_1e_3 = "tar_at_far_1e-3"
        }
    }

    func run() throws {
        let text = try String(contentsOfFile: pairsFile, encoding: .utf8)
        var pairs: [(String, String, Bool)] = []
        for (n, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let f = line.split(separator: "\t").map(String.init)
            guard f.count >= 3, let label = Int(f[2]), label == 0 || label == 1 else {
                printError("\(pairsFile):\(n + 1): expected PATH1<TAB>PATH2<TAB>1|0")
                throw ExitCode.failure
            }
            pairs.append(((root as NSString).appendingPathComponent(f[0]), (root as NSString).appendingPathComponent(f[1]), label == 1))
        }
        guard !pairs.isEmpty else { throw ValidationError("no pairs in \(pairsFile)") }
        var cache = TemplateCache(pipeline: try loadPipeline(global, upsample: nil))
        var genuine: [(score: Double, fold: Int)] = [], impostor: [(score: Double, fold: Int)] = []
        for (i, (a, b, same)) in pairs.enumerated() {
            var score = -1.0
            if let ta = cache.template(a), let tb = cache.template(b) { score = Double(try Gallery.verify(ta, tb)) }
            if same { genuine.append((score, i % folds)) } else { impostor.append((score, i % folds)) }
        }
        let metrics = VerificationMetrics(genuine: genuine.map(\.score), impostor: impostor.map(\.score))
        let t = Double(threshold ?? Thresholds.verification)
        let cv = VerificationMetrics.crossValidated(genuine: genuine, impostor: impostor, folds: folds)
        let eer = metrics.equalErrorRate()
        try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        let roc = metrics.rocPoints()
        let floorFAR = 1 / Double(max(1, impostor.count)) / 2
        let rocPath = (outDir as NSString).appendingPathComponent("roc.svg"), detPath = (outDir as NSString).appendingPathComponent("det.svg")
        try SVGPlot(title: "ROC (\(pairs.count) pairs)", xLabel: "false accept rate", yLabel: "true accept rate",
                    xRange: floorFAR...1, yRange: 0...1, logX: true,
                    series: [.init(name: "Argus", points: roc.map { (max($0.far, floorFAR), $0.tar) })])
            .render().write(toFile: rocPath, atomically: true, encoding: .utf8)
        try SVGPlot(title: "DET (\(pairs.count) pairs)", xLabel: "false accept rate", yLabel: "false reject rate",
                    xRange: floorFAR...1, yRange: 0...0.5, logX: true,
                    series: [.init(name: "Argus", points: roc.map { (max($0.far, floorFAR), 1 - $0.tar) })])
            .render().write(toFile: detPath, atomically: true, encoding: .utf8)
        let noFace = cache.templates.values.filter { $0 == nil }.count
        let result = Result(pairs: pairs.count, accuracy: metrics.accuracy(at: t), threshold: t, best_accuracy: cv.accuracy,
                            best_threshold: cv.threshold, tar_at_far_1e_2: metrics.tar(atFAR: 1e-2).tar,
                            tar_at_far_1e_3: metrics.tar(atFAR: 1e-3).tar, eer: eer.rate, no_face: noFace,
                            images: cache.templates.count, roc_svg: rocPath, det_svg: detPath)
        if json {
            try JSONLine.print(result)
        } else {
            print(String(format: "%d pairs, %d photos (%d without a face)", pairs.count, result.images, noFace))
            print(String(format: "accuracy %.4f at threshold %.4f", result.accuracy, t))
            print(String(format: "best accuracy (%d-fold CV) %.4f at threshold %.4f", folds, cv.accuracy, cv.threshold))
            print(String(format: "TAR %.4f at FAR 1e-2, %.4f at FAR 1e-3 (resolution 1/%d), EER %.4f", result.tar_at_far_1e_2,
                         result.tar_at_far_1e_3, impostor.count, eer.rate))
            print("curves: \(rocPath), \(detPath)")
        }
    }
}

/// `argus eval identification DIR`: open-set 1:N accuracy.
struct EvalIdentification: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "identification",
        abstract: "Open-set 1:N accuracy on DIR/<identity>/*: the first photo of each identity with 2+ photos is enrolled, "
            + "the others are mated probes; identities with one photo are non-mated probes."
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Directory of identity folders.") var directory: String
    @Option(help: "Where the CMC curve goes.") var outDir: String = "eval-identification"
    @Flag var json = false

    struct Result: Encodable {
        let enrolled: Int
        let mated_probes: Int
        let non_mated_probes: Int
        let rank1: Double
        let cmc: [Double]
        let fnir_at_fpir_1e_2: Double
        let threshold_at_fpir_1e_2: Double
        let fnir_at_fpir_3e_3: Double
        let threshold_at_fpir_3e_3: Double
        let no_face: Int
        let cmc_svg: String

        enum CodingKeys: String, CodingKey {
            case enrolled, mated_probes, non_mated_probes, rank1, cmc, no_face, cmc_svg
            case fnir_at_fpir_1e_2 = "fnir_at_fpir_1e-2"
            case threshold_at_fpir_1e_2 = "threshold_at_fpir_1e-2"
            case fnir_at_fpir_3e_3 = "fnir_at_fpir_3e-3"
            case threshold_at_fpir_3e_3 = "threshold_at_fpir_3e-3"
        }
    }

    func run() throws {
        let fm = FileManager.default
        var cache = TemplateCache(pipeline: try loadPipeline(global, upsample: nil))
        // Subjects ranked by the one subject search, as the service ranks them.
        let gallery = SubjectIndex(dimension: FaceEmbedder.dimension)
        var mated: [(identity: String, template: [Float])] = [], nonMated: [[Float]] = []
        for (identity, paths) in try photosByIdentity(directory) {
            if paths.count == 1 {
                if let t = cache.template(paths[0]) { nonMated.append(t) }
                continue
            }
            // Enrol the first photo that has a face; the rest are mated probes.
            var enrolledOne = false
            for path in paths {
                guard let t = cache.template(path) else { continue }
                if !enrolledOne {
                    try gallery.add(face: identity, subject: identity, template: t)
                    enrolledOne = true
                } else {
                    mated.append((identity, t))
                }
            }
        }
        let maxRank = 20
        var matedResults: [IdentificationMetrics.Mated] = []
        for probe in mated {
            let list = try gallery.search(probe.template, limit: maxRank)
            let rank = list.firstIndex { $0.subject == probe.identity }.map { $0 + 1 }
            matedResults.append(.init(rank: rank, score: rank.map { Double(list[$0 - 1].score) }))
        }
        let nonMatedTop = try nonMated.map { Double(try gallery.search($0, limit: 1).first?.score ?? -1) }
        let metrics = IdentificationMetrics(mated: matedResults, nonMatedTopScores: nonMatedTop)
        let cmc = (1...maxRank).map { metrics.cmc(rank: $0) }
        try fm.createDirectory(atPath: outDir, withIntermediateDirectories: true)
        let svg = (outDir as NSString).appendingPathComponent("cmc.svg")
        try SVGPlot(title: "CMC (\(gallery.count) enrolled, \(mated.count) mated probes)", xLabel: "rank", yLabel: "identification rate",
                    xRange: 1...Double(maxRank), yRange: max(0, (cmc.first ?? 0) - 0.05)...1,
                    series: [.init(name: "Argus", points: cmc.enumerated().map { (Double($0.offset + 1), $0.element) })])
            .render().write(toFile: svg, atomically: true, encoding: .utf8)
        let at2 = metrics.fnir(atFPIR: 1e-2), at3 = metrics.fnir(atFPIR: 3e-3)
        let result = Result(enrolled: gallery.count, mated_probes: mated.count, non_mated_probes: nonMated.count, rank1: cmc[0],
                            cmc: cmc, fnir_at_fpir_1e_2: at2.fnir, threshold_at_fpir_1e_2: at2.threshold,
                            fnir_at_fpir_3e_3: at3.fnir, threshold_at_fpir_3e_3: at3.threshold,
                            no_face: cache.templates.values.filter { $0 == nil }.count, cmc_svg: svg)
        if json {
            try JSONLine.print(result)
        } else {
            print("gallery \(gallery.count), mated probes \(mated.count), non-mated probes \(nonMated.count), no face \(result.no_face)")
            print(String(format: "rank-1 %.4f, rank-5 %.4f, rank-10 %.4f", cmc[0], cmc[4], cmc[9]))
            print(String(format: "FNIR %.4f at FPIR 1e-2 (threshold %.4f); FNIR %.4f at FPIR 3e-3 (threshold %.4f)",
                         at2.fnir, at2.threshold, at3.fnir, at3.threshold))
            print("CMC curve: \(svg)")
        }
    }
}

/// The photos of `DIR/<identity>/*.{jpg,jpeg,png}`, grouped by identity, both in name order
/// (the same walk `argus enroll` makes).
func photosByIdentity(_ directory: String) throws -> [(identity: String, paths: [String])] {
    var groups: [(identity: String, paths: [String])] = []
    for item in try EnrollmentInput.scan(directory: directory) {
        if groups.last?.identity == item.subject { groups[groups.count - 1].paths.append(item.path) } else { groups.append((item.subject, [item.path])) }
    }
    return groups
}
