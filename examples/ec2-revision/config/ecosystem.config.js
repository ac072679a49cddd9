// PM2: four Node.js processes behind nginx, reloaded one by one without dropping
// requests (the app calls process.send('ready') once it listens, and closes its server
// on SIGINT, finishing in-flight requests within kill_timeout).
module.exports = {
  apps: [
    {
      name: "shop",
      script: "server.js",
      cwd: "/opt/shop/current",
      exec_mode: "cluster",
      instances: 4, // four app processes per instance, behind one nginx
      wait_ready: true,
      listen_timeout: 15000,
      kill_timeout: 20000,
      max_memory_restart: "512M",
      env: { NODE_ENV: "production", PORT: "3000" },
      out_file: "/opt/shop/shared/logs/out.log",
      error_file: "/opt/shop/shared/logs/error.log",
    },
  ],
};
