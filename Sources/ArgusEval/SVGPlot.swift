import Foundation

/// A minimal line chart written as SVG: axes, ticks, a grid, one polyline per series and a legend.
public struct SVGPlot: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public init(name: String, points: [(x: Double, y: Double)]) { (self.name, self.points) = (name, points) }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var xRange: ClosedRange<Double>
    public var yRange: ClosedRange<Double>
    /// Plot x on a log10 axis (ROC and DET curves at low FAR).
    public var logX: Bool
    public var series: [Series]

    public init(title: String, xLabel: String, yLabel: String, xRange: ClosedRange<Double>, yRange: ClosedRange<Double>,
                logX: Bool = false, series: [Series]) {
        (self.title, self.xLabel, self.yLabel, self.xRange, self.yRange, self.logX, self.series) =
            (title, xLabel, yLabel, xRange, yRange, logX, series)
    }

    public func render(width: Double = 640, height: Double = 480) -> String {
        let left = 70.0, right = 20.0, top = 40.0, bottom = 55.0
        let pw = width - left - right, ph = height - top - bottom
        func tx(_ x: Double) -> Double {
            let lo = logX ? log10(xRange.lowerBound) : xRange.lowerBound, hi = logX ? log10(xRange.upperBound) : xRange.upperBound
            let v = logX ? log10(max(x, xRange.lowerBound)) : x
            return left + (min(max(v, lo), hi) - lo) / (hi - lo) * pw
        }
        func ty(_ y: Double) -> Double {
            top + ph - (min(max(y, yRange.lowerBound), yRange.upperBound) - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound) * ph
        }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(width / 2)\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(escape(title))</text>\n"
        let xTicks: [Double] = logX
            ? stride(from: floor(log10(xRange.lowerBound)), through: ceil(log10(xRange.upperBound)), by: 1).map { pow(10, $0) }
            : (0...5).map { xRange.lowerBound + Double($0) * (xRange.upperBound - xRange.lowerBound) / 5 }
        for t in xTicks where t >= xRange.lowerBound && t <= xRange.upperBound {
            s += "<line x1=\"\(tx(t))\" y1=\"\(top)\" x2=\"\(tx(t))\" y2=\"\(top + ph)\" stroke=\"#ddd\"/>\n"
            s += "<text x=\"\(tx(t))\" y=\"\(top + ph + 16)\" text-anchor=\"middle\">\(format(t))</text>\n"
        }
        for i in 0...5 {
            let t = yRange.lowerBound + Double(i) * (yRange.upperBound - yRange.lowerBound) / 5
            s += "<line x1=\"\(left)\" y1=\"\(ty(t))\" x2=\"\(left + pw)\" y2=\"\(ty(t))\" stroke=\"#ddd\"/>\n"
            s += "<text x=\"\(left - 6)\" y=\"\(ty(t) + 4)\" text-anchor=\"end\">\(format(t))</text>\n"
        }
        s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(pw)\" height=\"\(ph)\" fill=\"none\" stroke=\"black\"/>\n"
        s += "<text x=\"\(left + pw / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        s += "<text transform=\"translate(16,\(top + ph / 2)) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"]
        for (i, line) in series.enumerated() {
            let pts = line.points.filter { !logX || $0.x > 0 }.map { String(format: "%.2f,%.2f", tx($0.x), ty($0.y)) }.joined(separator: " ")
            s += "<polyline fill=\"none\" stroke=\"\(colors[i % colors.count])\" stroke-width=\"2\" points=\"\(pts)\"/>\n"
            s += "<text x=\"\(left + 10)\" y=\"\(top + 18 + Double(i) * 16)\" fill=\"\(colors[i % colors.count])\">\(escape(line.name))</text>\n"
        }
        return s + "</svg>\n"
    }

    private func format(_ v: Double) -> String {
        if logX && v < 0.01 && v > 0 { return String(format: "%.0e", v) }
        return String(format: "%g", (v * 1000).rounded() / 1000)
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
