"""Camera geometry: intrinsics, undistortion, pixel → ray → robot base frame, chessboard calibration."""
