"""device/retry"""
