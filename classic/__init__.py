# Submodules (imported on use, to keep `import classic` light):
#   classic.filters  convolve2d, correlate2d, gaussian_kernel, gaussian_blur, sobel,
#                    image_gradients, gradient_magnitude_direction
#   classic.edges    canny
#   classic.hough    hough_line, hough_line_peaks
#   classic.ransac   ransac, required_trials, LineModel, AffineTransform, ProjectiveTransform
#   classic.corners  harris_response, corner_peaks
#   classic.knn      KNearestNeighbor, cross_validate_k
#   classic.linalg   svd, pinv, low_rank, PCA
