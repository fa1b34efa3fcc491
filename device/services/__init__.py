"""device/services"""
