"""device/daemon"""
