package imaging

// peakEstimate is the pipeline's memory estimate for data, -1 when the
// header cannot be read: a column of TestPeakMemoryTable.
func peakEstimate(data []byte, ct string) int64 {
	f, err := formatOf(ct)
	if err != nil {
		return -1
	}
	cfg, err := f.decodeConfig(data)
	if err != nil {
		return -1
	}
	return estimate(f, data, cfg)
}
