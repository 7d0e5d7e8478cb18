import ArgumentParser
import ArgusFace

/// Options every command that touches the models shares.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Directory with the dlib model files (default: $ARGUS_MODELS, else ./models).")
    var models: String?

    var modelDirectory: ModelDirectory { ModelDirectory.resolve(option: models) }
}
