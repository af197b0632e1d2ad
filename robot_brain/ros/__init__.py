"""The ROS 2 adapter: lifecycle nodes hosting the pipeline, message conversion, diagnostics, bag replay
into live topics and session recording. Imports rclpy; nothing else in robot_brain does."""
