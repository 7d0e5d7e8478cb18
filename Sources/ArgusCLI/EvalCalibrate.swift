import ArgumentParser
import ArgusEval
import ArgusFace
import ArgusMatching
import Foundation

/// `argus eval calibrate DIR`: score distributions over every pair of photos in DIR/<identity>/*,
/// and the thresholds that hold given false-accept rates (how the README's defaults were chosen).
struct EvalCalibrate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Thresholds for target FARs from all same-identity and cross-identity photo pairs."
    )

    @OptionGroup var global: GlobalOptions
    @Argument(help: "Directory of identity folders.") var directory: String
    @Flag var json = false

    struct Row: Encodable {
        let far: Double
        let threshold: Double
        let tar: Double
    }

    struct Result: Encodable {
        let photos: Int
        let genuine_pairs: Int
        let impostor_pairs: Int
        let best_accuracy_threshold: Double
        let eer: Double
        let rows: [Row]
    }

    func run() throws {
        var cache = TemplateCache(pipeline: try loadPipeline(global, upsample: nil))
        var templates: [(identity: Int, t: [Float])] = []
        for (i, group) in try photosByIdentity(directory).enumerated() {
            for path in group.paths { if let t = cache.template(path) { templates.append((i, t)) } }
        }
        // All pairs by one matrix product: the gallery is every photo, the queries are every photo.
        let gallery = Gallery(dimension: FaceEmbedder.dimension)
        try gallery.add(templates.enumerated().map { (id: "\($0.offset)", template: $0.element.t) })
        let all = try gallery.search(queries: templates.flatMap(\.t), k: templates.count)
        var genuine: [Double] = [], impostor: [Double] = []
        for (i, list) in all.enumerated() {
            for m in list {
                guard let j = Int(m.id), j > i else { continue }
                if templates[i].identity == templates[j].identity { genuine.append(Double(m.score)) } else { impostor.append(Double(m.score)) }
            }
        }
        let metrics = VerificationMetrics(genuine: genuine, impostor: impostor)
        let rows = [1e-2, 1e-3, 1e-4, 1e-5].map { far -> Row in
            let r = metrics.tar(atFAR: far)
            return Row(far: far, threshold: r.threshold, tar: r.tar)
        }
        let result = Result(photos: templates.count, genuine_pairs: genuine.count, impostor_pairs: impostor.count,
                            best_accuracy_threshold: metrics.bestThreshold().threshold, eer: metrics.equalErrorRate().rate, rows: rows)
        if json {
            try JSONLine.print(result)
        } else {
            print("\(templates.count) photos: \(genuine.count) genuine and \(impostor.count) impostor pairs")
            print(String(format: "EER %.4f; best-accuracy threshold %.4f", result.eer, result.best_accuracy_threshold))
            for r in rows { print(String(format: "FAR %.0e: threshold %.4f, TAR %.4f", r.far, r.threshold, r.tar)) }
        }
    }
}
