"""The original project's conversion step, timed: what its converter did with one `video` message.

`start` below is the original's `to_mp3.start` line for line (the whole video read into memory
from GridFS, written to a NamedTemporaryFile, `VideoFileClip(...).audio.write_audiofile(...)` at
MoviePy's defaults, the MP3 read back whole and `put` into GridFS), less its publish of the
`mp3` message, plus clock readings between its phases. As in the original's consumer, moviepy
is imported and MongoDB connected before any message arrives, so neither is inside the timed
step.

    python convert.py put MONGO_URL DATABASE PATH
        stores PATH in DATABASE's GridFS as the original gateway did (`fs.put`) and prints its id
    python convert.py convert MONGO_URL VIDEOS_DATABASE MP3S_DATABASE VIDEO_FID
        converts it; the last stdout line is one JSON object with the measurements

MoviePy's progress bar and messages go to stderr and stdout as in the original. Temporary files
go to tempfile's directory (TMPDIR), as in the original.
"""

import gc
import json
import os
import platform
import resource
import sys
import tempfile
import time

import gridfs
import imageio_ffmpeg
import moviepy
import moviepy.config
import moviepy.editor
import pymongo
from bson.objectid import ObjectId
from pymongo import MongoClient


def start(message, fs_videos, fs_mp3s, mark):
    """The original's to_mp3.start, less the publish: returns the MP3's GridFS id."""
    message = json.loads(message)

    # empty temp file
    tf = tempfile.NamedTemporaryFile()
    # video contents
    out = fs_videos.get(ObjectId(message["video_fid"]))
    # add video contents to empty file
    tf.write(out.read())
    mark("fetch")
    # create audio from temp video file
    audio = moviepy.editor.VideoFileClip(tf.name).audio
    tf.close()

    # write audio to the file
    tf_path = tempfile.gettempdir() + f"/{message['video_fid']}.mp3"
    audio.write_audiofile(tf_path)
    mark("moviepy")

    # save file to mongo
    f = open(tf_path, "rb")
    data = f.read()
    fid = fs_mp3s.put(data)
    f.close()
    os.remove(tf_path)

    return fid


def cpu_seconds():
    """User + system CPU of this process and of its children that have been waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def rss_kib(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def living_children():
    pids = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as children:
            pids += children.read().split()
    return pids


def put(mongo_url, database, path):
    client = MongoClient(mongo_url)
    try:
        with open(path, "rb") as f:
            print(gridfs.GridFS(client[database]).put(f))
    finally:
        client.close()


def convert(mongo_url, videos_database, mp3s_database, video_fid):
    client = MongoClient(mongo_url)
    client.admin.command("ping")
    fs_videos = gridfs.GridFS(client[videos_database])
    fs_mp3s = gridfs.GridFS(client[mp3s_database])
    message = json.dumps({"video_fid": video_fid, "mp3_fid": None})

    ready_rss = rss_kib("VmRSS")
    cpu_before = cpu_seconds()
    started = time.perf_counter()
    phases = {}
    last = [started]

    def mark(phase):
        now = time.perf_counter()
        phases[phase + "_seconds"] = now - last[0]
        last[0] = now

    fid = start(message, fs_videos, fs_mp3s, mark)
    mark("store")
    seconds = time.perf_counter() - started
    # MoviePy's clips hold their ffmpeg readers in reference cycles (make_frame lambdas): the
    # original's readers end when the garbage collector next runs. Collected here, so that
    # their processes are waited for and their CPU counted.
    gc.collect()
    cpu = cpu_seconds() - cpu_before
    left = living_children()

    mp3 = fs_mp3s.get(fid)
    result = {
        "seconds": seconds,
        "cpu_seconds": cpu,
        **phases,
        "ready_rss_kib": ready_rss,
        # Not ru_maxrss: on Linux that also takes the peak of the memory a process replaced by
        # exec (here the parent's, for a spawned child): VmHWM is this process's own.
        "peak_rss_kib": rss_kib("VmHWM"),
        "children_left": len(left),
        "mp3_fid": str(fid),
        "mp3_bytes": mp3.length,
        "python_version": platform.python_version(),
        "moviepy_version": moviepy.__version__,
        "imageio_ffmpeg_version": imageio_ffmpeg.__version__,
        "pymongo_version": pymongo.version,
        "ffmpeg_path": moviepy.config.get_setting("FFMPEG_BINARY"),
        "ffmpeg_version": imageio_ffmpeg.get_ffmpeg_version(),
    }
    client.close()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    commands = {"put": (put, 3), "convert": (convert, 4)}
    command = commands.get(sys.argv[1] if len(sys.argv) > 1 else "")
    if command is None or len(sys.argv) != command[1] + 2:
        sys.exit(__doc__)
    command[0](*sys.argv[2:])
